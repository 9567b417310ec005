// Small enhancements on top of htmx. Every page works without this file.

// The status line beside the control that asked: its statement's in a query list, else its form's.
function statusFor(element) {
  return element.closest(".query")?.querySelector(".card-status") ?? element.closest("form")?.querySelector(".card-status");
}

// htmx does not swap error responses; show their message next to the form that asked instead.
document.addEventListener("htmx:responseError", (event) => {
  const status = statusFor(event.detail.elt);
  if (!status) return;
  const xhr = event.detail.xhr;
  const page = new DOMParser().parseFromString(xhr.responseText, "text/html");
  const message = page.querySelector(".problem-message")?.textContent;
  status.textContent = (message || `${xhr.status} ${xhr.statusText}`).trim();
});
document.addEventListener("htmx:sendError", (event) => {
  const status = statusFor(event.detail.elt);
  if (status) status.textContent = "The course server did not answer. Is it still running?";
});

// Behaviour named by data attributes instead of onclick=, which the Content Security Policy
// refuses: data-show-dialog opens a <dialog> by id, data-confirm asks before a button submits.
document.addEventListener("click", (event) => {
  const opener = event.target.closest("[data-show-dialog]");
  if (opener) document.getElementById(opener.dataset.showDialog)?.showModal();
  const asking = event.target.closest("[data-confirm]");
  if (asking && !window.confirm(asking.dataset.confirm)) event.preventDefault();
});

// Presenter mode: larger type for projectors, remembered by this browser.
function setPresenter(on) {
  document.documentElement.classList.toggle("presenter", on);
  localStorage.setItem("presenter", on ? "1" : "0");
  document.querySelectorAll("[data-presenter-toggle]").forEach((button) => button.setAttribute("aria-pressed", String(on)));
}
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-presenter-toggle]")) {
    setPresenter(!document.documentElement.classList.contains("presenter"));
  }
});
document.addEventListener("DOMContentLoaded", () => setPresenter(localStorage.getItem("presenter") === "1"));

// Keyboard: r runs the snippet that has focus, [ and ] move between lessons, p toggles presenter
// mode, ? lists the shortcuts.
const shortcuts = {
  r: () => {
    const card = document.activeElement?.closest(".card");
    card?.querySelector(".run-button")?.click();
    return Boolean(card);
  },
  "]": () => follow('a[rel="next"]'),
  "[": () => follow('a[rel="prev"]'),
  p: () => { setPresenter(!document.documentElement.classList.contains("presenter")); return true; },
  "?": () => { document.getElementById("shortcuts")?.showModal(); return true; },
};
function follow(selector) {
  const link = document.querySelector(selector);
  if (link) window.location.href = link.href;
  return Boolean(link);
}
const shortcutsOff = () => localStorage.getItem("shortcuts") === "off";
document.addEventListener("change", (event) => {
  if (event.target.id === "shortcuts-off") localStorage.setItem("shortcuts", event.target.checked ? "off" : "on");
});
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("shortcuts-off");
  if (box) box.checked = shortcutsOff();
});
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (shortcutsOff() && event.key !== "?") return;
  if (event.target.closest("input, textarea, select, [contenteditable]")) return;
  const action = shortcuts[event.key];
  if (action && action()) event.preventDefault();
});

// Editing. Without this script the Edit link opens the code in the playground; with it, the code
// becomes editable in place (the vendored editor on the card's textarea), Run sends the edit, and
// the edit is kept in this browser until Reset.
const editors = new WeakMap();
const editKey = (card) => `course-edit:${card.dataset.lesson}:${card.dataset.snippetCard}`;

function openEditor(card, text) {
  const textarea = card.querySelector("textarea.code-input");
  if (!textarea || editors.has(textarea) || !window.CourseEditor) return null;
  if (text !== undefined) textarea.value = text;
  remember(card, textarea, textarea.value);
  textarea.disabled = false;
  card.dataset.editing = "true";
  card.querySelector(".code").hidden = true;
  const form = textarea.form;
  const editor = window.CourseEditor.create(textarea, {
    label: textarea.getAttribute("aria-label"),
    onRun: () => form.requestSubmit(form.querySelector(".run-button")),
    onChange: (value) => remember(card, textarea, value),
  });
  editors.set(textarea, editor);
  editor.showCounts(lineCounts(card));  // after a run of the edit: what each of its lines sent
  showError(card, editor);
  card.querySelector("[data-edit]").hidden = true;
  card.querySelector("[data-reset]").hidden = false;
  card.querySelector("[data-open-playground]").hidden = false;
  return editor;
}

// A run Python could not read: its line is marked in the editor and the message kept in view.
function showError(root, editor) {
  const error = root.querySelector(".run-error[data-error-line]");
  if (!error) return;
  editor.markError(error.dataset.errorLine);
  error.scrollIntoView({ block: "nearest" });
}

// {line: queries} as the server drew them in a card's code (the gutter of its last run).
function lineCounts(card) {
  const byLine = {};
  card.querySelectorAll(".code-line").forEach((line) => {
    const count = Number(line.querySelector(".gutter")?.dataset.lineCount || 0);
    if (count) byLine[line.dataset.line] = count;
  });
  return byLine;
}

function remember(card, textarea, value) {
  const edited = value !== textarea.dataset.original;
  card.toggleAttribute("data-edited", edited);  // the card's label says "edited"
  if (edited) localStorage.setItem(editKey(card), value);
  else localStorage.removeItem(editKey(card));
}

// Elements matching `selector` in `root`, root included (htmx hands over the swapped card itself).
const within = (root, selector) => [...(root.matches?.(selector) ? [root] : []), ...root.querySelectorAll(selector)];

function setUpCards(root) {
  within(root, "[data-snippet-card]").forEach((card) => {
    const textarea = card.querySelector("textarea.code-input");
    if (!textarea || editors.has(textarea)) return;
    if (!textarea.disabled) {  // the server answered a run of edited code: keep editing it
      openEditor(card);
      return;
    }
    const kept = localStorage.getItem(editKey(card));
    if (kept !== null && kept !== textarea.dataset.original) openEditor(card, kept);
  });
  within(root, "textarea[data-editor]").forEach((textarea) => {
    if (editors.has(textarea) || !window.CourseEditor) return;
    const form = textarea.form;
    // An exercise keeps the learner's code across a reload, as a snippet's edit does.
    const key = textarea.closest(".exercise-form") ? `exercise:${textarea.id}` : null;
    const kept = key && localStorage.getItem(key);
    if (kept) textarea.value = kept;
    editors.set(textarea, window.CourseEditor.create(textarea, {
      label: textarea.dataset.editorLabel || "Your code",
      onRun: () => form.requestSubmit(form.querySelector(".run-button")),
      onChange: (value) => {
        if (!key) return;
        if (value === textarea.defaultValue) localStorage.removeItem(key);
        else localStorage.setItem(key, value);
      },
    }));
    form.querySelector("[data-share]")?.removeAttribute("hidden");
  });
}

function playgroundUrl(code, dataset, engine) {
  const url = new URL(document.body.dataset.playgroundUrl || "/playground/", window.location.href);
  url.search = new URLSearchParams(engine ? { code, dataset, engine } : { code, dataset }).toString();
  return url.toString();
}

document.addEventListener("click", (event) => {
  const card = event.target.closest("[data-snippet-card]");
  if (event.target.closest("[data-edit]") && card && window.CourseEditor) {
    event.preventDefault();
    openEditor(card)?.focus();
  } else if (event.target.closest("[data-reset]") && card) {
    const textarea = card.querySelector("textarea.code-input");
    editors.get(textarea)?.setValue(textarea.dataset.original);
    localStorage.removeItem(editKey(card));
    statusFor(textarea).textContent = "Back to the lesson's code. Run it to compare with the promise.";
    editors.get(textarea)?.focus();
  } else if (event.target.closest("[data-open-playground]") && card) {
    const textarea = card.querySelector("textarea.code-input");
    const dataset = card.querySelector("input[name=dataset]").value;
    const engine = card.querySelector("input[name=engine]")?.value;
    event.target.closest("a").href = playgroundUrl(textarea.value, dataset, engine);
  } else if (event.target.closest("[data-share]")) {
    const form = event.target.closest("form");
    const dataset = form.querySelector("input[name=dataset]:checked")?.value ?? "";
    const engine = form.querySelector("input[name=engine]:checked")?.value;
    const link = playgroundUrl(form.querySelector("textarea[name=code]").value, dataset, engine);
    const status = form.querySelector(".share-status");
    const done = () => { status.textContent = "Share link copied: anyone who opens it sees this code."; };
    const show = () => { status.textContent = `Share this link: ${link}`; };
    if (navigator.clipboard) navigator.clipboard.writeText(link).then(done, show);
    else show();
    history.replaceState(null, "", link);  // the address bar is the link too
  }
});
// A Copy button beside code, SQL and output: the text as shown, one line per code line.
const COPYABLE = ".card .code, pre.code, pre.sql, .output pre, .prose pre, .question-code";
function setUpCopy(root) {
  within(root, COPYABLE).forEach((block) => {
    if (block.nextElementSibling?.matches(".copy-button")) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy-button link-button";
    button.textContent = "Copy";
    button.setAttribute("aria-label", block.matches("pre.sql") ? "Copy the SQL" : block.matches(".output pre") ? "Copy the output" : "Copy the code");
    block.after(button);
  });
}
function copyText(block) {
  const lines = block.querySelectorAll(".code-line code");
  return lines.length ? [...lines].map((line) => line.textContent).join("\n") : block.textContent;
}
document.addEventListener("click", (event) => {
  const button = event.target.closest(".copy-button");
  if (!button) return;
  const text = copyText(button.previousElementSibling);
  const said = (words) => { button.textContent = words; setTimeout(() => { button.textContent = "Copy"; }, 2000); };
  if (navigator.clipboard) navigator.clipboard.writeText(text).then(() => said("Copied"), () => said("Select it to copy"));
  else said("Select it to copy");  // plain http beyond localhost has no clipboard API
});
// The playground's result carries the queries per line of the code that ran: its editor shows them.
document.addEventListener("htmx:load", (event) => {
  const [panel] = event.detail.elt instanceof Element ? within(event.detail.elt, "[data-line-counts]") : [];
  const textarea = document.getElementById("playground-code");
  if (!textarea || !editors.has(textarea) || !(event.detail.elt instanceof Element)) return;
  if (panel) editors.get(textarea).showCounts(JSON.parse(panel.dataset.lineCounts));
  showError(event.detail.elt.closest("#playground-result") ?? event.detail.elt, editors.get(textarea));
});
document.addEventListener("htmx:load", (event) => setUpCopy(event.detail.elt));
document.addEventListener("DOMContentLoaded", () => setUpCopy(document));
document.addEventListener("htmx:load", (event) => setUpCards(event.detail.elt));
document.addEventListener("DOMContentLoaded", () => setUpCards(document));

// Hints open one at a time: each waits until the one before it has been opened.
function setUpHints(root) {
  within(root, "details.hint[data-after-previous]").forEach((hint) => {
    const previous = hint.previousElementSibling;
    if (previous && !previous.open) hint.hidden = true;
  });
}
document.addEventListener("toggle", (event) => {
  // Only an opened hint shows the next one; any other <details> (a SQL list, the output) is left.
  const hint = event.target;
  if (!(hint instanceof Element) || !hint.matches("details.hint") || !hint.open) return;
  const next = hint.nextElementSibling;
  if (next?.matches("details.hint")) next.hidden = false;
}, true);
document.addEventListener("htmx:load", (event) => setUpHints(event.detail.elt));

// A run that takes a while may be waiting for a free worker: while its request is out, its
// running line asks the server where it waits, every second, and says so ("Queued ... about 3 s"),
// or how long it has been running ("Running on Laptop… 4 s").
const QUEUE_FIRST_ASK_MS = 700;
const QUEUE_ASK_EVERY_MS = 1000;
const queueWatchers = new WeakMap();
document.addEventListener("htmx:beforeRequest", (event) => {
  const line = event.detail.elt.closest?.("form")?.querySelector(".running");
  const url = document.body.dataset.queueUrl;
  if (!line || !url || event.detail.requestConfig?.verb !== "post") return;
  const said = line.textContent;
  const started = Date.now();
  // Not queued: how long the run has been going, so a long one never looks stuck.
  const going = () => `${said.trim()} ${Math.round((Date.now() - started) / 1000)} s`;
  const ask = async () => {
    try {
      const answer = await fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
      line.textContent = answer.status === 200 ? await answer.text() : going();
    } catch {
      line.textContent = going();
    }
  };
  let timer = setTimeout(function again() {
    ask().finally(() => { if (queueWatchers.has(line)) timer = setTimeout(again, QUEUE_ASK_EVERY_MS); });
  }, QUEUE_FIRST_ASK_MS);
  const cancel = line.closest("form").querySelector("[data-cancel-run]");
  if (cancel) cancel.hidden = false;
  queueWatchers.set(line, () => {
    clearTimeout(timer);
    line.textContent = said;
    if (cancel) cancel.hidden = true;
  });
});
// Cancel ends the run in the service; the run's own request then answers that it was cancelled.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-cancel-run]");
  const url = document.body.dataset.cancelUrl;
  if (!button || !url) return;
  const token = button.closest("form").querySelector("input[name=csrfmiddlewaretoken]")?.value ?? "";
  button.disabled = true;
  fetch(url, { method: "POST", headers: { "X-CSRFToken": token, "HX-Request": "true" }, credentials: "same-origin" })
    .finally(() => { button.disabled = false; });
});
document.addEventListener("htmx:afterRequest", (event) => {
  const line = event.detail.elt.closest?.("form")?.querySelector(".running");
  const stop = line && queueWatchers.get(line);
  if (stop) {
    queueWatchers.delete(line);
    stop();
  }
});
