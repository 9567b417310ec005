// The presenter view: arrow keys and Page Up/Down (what presentation clickers send) step pairs.
document.addEventListener("keydown", (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.target.closest("input, textarea, select, [contenteditable], .cm-editor")) return;
  const rel = { ArrowRight: "next", PageDown: "next", ArrowLeft: "prev", PageUp: "prev" }[event.key];
  const link = rel && document.querySelector(`[data-present-page] a[rel="${rel}"]`);
  if (!link) return;
  event.preventDefault();
  window.location.href = link.href;
});
