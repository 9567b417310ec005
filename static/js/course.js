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
