"""The only layer that sees a request: pages, htmx partials, the JSON API and error answers."""
