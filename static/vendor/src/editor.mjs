// The course's editor: CodeMirror 6 with Python, bundled into one offline file by build.sh.
// window.CourseEditor.create(textarea, {label, onRun, onChange}) edits the textarea's text in
// place and keeps textarea.value in step, so forms and htmx post it unchanged.
import { EditorView, Decoration, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection, gutter, GutterMarker } from "@codemirror/view";
import { EditorState, StateEffect, StateField } from "@codemirror/state";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { bracketMatching, indentOnInput, syntaxHighlighting, HighlightStyle, indentUnit } from "@codemirror/language";
import { tags as t } from "@lezer/highlight";
import { python } from "@codemirror/lang-python";

// Colours come from the page's own variables (static/css/course.css, pygments.css), so the editor
// follows light and dark with the rest of the page and keeps the same contrast as shown code.
const theme = EditorView.theme({
  "&": { fontSize: "inherit", color: "var(--ink)", backgroundColor: "var(--card)" },
  ".cm-scroller": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace", lineHeight: "1.4" },
  ".cm-content, .cm-gutter": { minHeight: "8.5em" },
  ".cm-content": { caretColor: "var(--ink)" },
  ".cm-cursor": { borderLeftColor: "var(--ink)" },
  ".cm-gutters": { background: "var(--surface)", borderRight: "1px solid var(--line)", color: "var(--lineno)" },
  ".cm-error-line": { backgroundColor: "var(--bad-soft)", outline: "1px solid var(--bad)" },
  ".cm-query-gutter .cm-gutterElement": { color: "var(--bad)", fontWeight: "700", padding: "0 .4rem", textAlign: "right" },
  ".cm-activeLine, .cm-activeLineGutter": { backgroundColor: "var(--surface)" },
  "&.cm-focused .cm-selectionBackground, .cm-selectionBackground": { backgroundColor: "var(--accent-soft)" },
  ".cm-matchingBracket": { backgroundColor: "var(--accent-soft)", outline: "1px solid var(--accent)" },
});

const highlight = HighlightStyle.define([
  { tag: [t.keyword, t.controlKeyword, t.operatorKeyword, t.definitionKeyword, t.moduleKeyword, t.bool, t.null, t.self],
    color: "var(--code-keyword)", fontWeight: "bold" },
  { tag: [t.string, t.special(t.string), t.regexp, t.escape], color: "var(--code-string)" },
  { tag: [t.number, t.integer, t.float], color: "var(--code-number)" },
  { tag: [t.comment, t.lineComment, t.blockComment], color: "var(--code-comment)", fontStyle: "italic" },
  { tag: [t.function(t.variableName), t.function(t.propertyName), t.className, t.definition(t.variableName), t.namespace],
    color: "var(--code-name)" },
  { tag: [t.operator, t.punctuation, t.bracket], color: "var(--code-operator)" },
  { tag: [t.meta, t.annotation], color: "var(--code-decorator)" },
  { tag: t.invalid, color: "var(--bad)" },
]);

// The queries each line sent in the last run, in a gutter of their own: the course's main device,
// kept while the learner edits. Any edit clears it (the lines it counted have moved).
const setCounts = StateEffect.define();
const counts = StateField.define({
  create: () => new Map(),
  update(value, transaction) {
    for (const effect of transaction.effects) if (effect.is(setCounts)) return effect.value;
    return transaction.docChanged ? new Map() : value;
  },
});
class CountMarker extends GutterMarker {
  constructor(count) { super(); this.count = count; }
  eq(other) { return other.count === this.count; }
  toDOM() {
    const span = document.createElement("span");
    span.textContent = this.count.toLocaleString("en");
    span.title = `this line sent ${this.count} quer${this.count === 1 ? "y" : "ies"}`;
    return span;
  }
}
const queryGutter = gutter({
  class: "cm-query-gutter",
  lineMarker(view, line) {
    const count = view.state.field(counts).get(view.state.doc.lineAt(line.from).number);
    return count ? new CountMarker(count) : null;
  },
  lineMarkerChange: (update) => update.transactions.some((t) => t.effects.some((e) => e.is(setCounts))) || update.docChanged,
});

// The line Python could not read, marked until the next edit.
const setErrorLine = StateEffect.define();
const errorLine = StateField.define({
  create: () => Decoration.none,
  update(value, transaction) {
    for (const effect of transaction.effects) {
      if (effect.is(setErrorLine)) {
        const doc = transaction.state.doc;
        if (!effect.value || effect.value > doc.lines) return Decoration.none;
        return Decoration.set([Decoration.line({ class: "cm-error-line" }).range(doc.line(effect.value).from)]);
      }
    }
    return transaction.docChanged ? Decoration.none : value;
  },
  provide: (field) => EditorView.decorations.from(field),
});

// The page's Content Security Policy takes <style> elements only with its nonce, and CodeMirror
// writes its styles into one. The nonce comes from this script's own tag: read now, while the
// script runs (currentScript is null afterwards); browsers hide the attribute but not .nonce.
const nonce = document.currentScript?.nonce ?? "";

const FOCUSABLE = "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select:not([disabled]), textarea:not([disabled]):not([hidden]), [tabindex]:not([tabindex='-1']), [contenteditable='true']";

function create(textarea, options = {}) {
  const wrapper = document.createElement("div");
  wrapper.className = "course-editor";
  const run = () => { options.onRun?.(); return true; };
  // Escape leaves: focus moves to the first control after the editor, so Tab never traps anyone.
  const leave = (view) => {
    const controls = document.querySelectorAll(FOCUSABLE);
    const next = [...controls].find((el) => !wrapper.contains(el) && el.getClientRects().length &&
      wrapper.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING);
    view.contentDOM.blur();
    next?.focus();
    return true;
  };
  const view = new EditorView({
    parent: wrapper,
    state: EditorState.create({
      doc: textarea.value,
      extensions: [
        counts, queryGutter, errorLine, lineNumbers(), highlightActiveLineGutter(), highlightActiveLine(), drawSelection(), history(),
        indentOnInput(), bracketMatching(), indentUnit.of("    "),
        syntaxHighlighting(highlight), python(), theme,
        // Long lines wrap: the editor never scrolls sideways, on a phone or on a projector.
        EditorView.lineWrapping,
        EditorView.cspNonce.of(nonce),
        // Ours first: Ctrl+Enter and Cmd+Enter (Meta) run on every platform instead of inserting
        // a line (defaultKeymap binds Mod-Enter to a new line), and Escape leaves.
        keymap.of([{ key: "Ctrl-Enter", run }, { key: "Meta-Enter", run }, { key: "Escape", run: leave },
          indentWithTab, ...defaultKeymap, ...historyKeymap]),
        EditorView.contentAttributes.of({ "aria-label": options.label || "Code", "aria-multiline": "true" }),
        EditorView.updateListener.of((update) => {
          if (!update.docChanged) return;
          textarea.value = update.state.doc.toString();
          options.onChange?.(textarea.value);
        }),
      ],
    }),
  });
  // Hidden but kept in its form, so posts and htmx still send textarea.value. The inline style
  // wins over a page's `textarea { display: block }`, which would beat the hidden attribute.
  const display = textarea.style.display;
  textarea.hidden = true;
  textarea.style.display = "none";
  textarea.after(wrapper);
  return {
    view,
    getValue: () => view.state.doc.toString(),
    setValue(text) { view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } }); },
    focus: () => view.focus(),
    // The line a syntax error is on, marked (0: none).
    markError(line) { view.dispatch({ effects: setErrorLine.of(Number(line) || 0) }); },
    // {line number: queries} from the last run of this code, shown beside its lines.
    showCounts(byLine) {
      view.dispatch({ effects: setCounts.of(new Map(Object.entries(byLine).map(([line, n]) => [Number(line), n]))) });
    },
    destroy() { view.destroy(); wrapper.remove(); textarea.hidden = false; textarea.style.display = display; },
  };
}

window.CourseEditor = { create };
