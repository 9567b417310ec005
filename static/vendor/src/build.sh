#!/bin/sh
# Rebuild the vendored editor from the pinned packages: sh static/vendor/src/build.sh
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
version=$(node -p 'require("./node_modules/codemirror/package.json").version')
./node_modules/.bin/esbuild editor.mjs --bundle --minify --format=iife --target=es2020 \
  --outfile="../codemirror-$version.min.js"
cp node_modules/codemirror/LICENSE ../CODEMIRROR-LICENSE.txt
echo "static/vendor/codemirror-$version.min.js"
