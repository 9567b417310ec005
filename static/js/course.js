// htmx does not swap error responses; show their message in the card that asked instead.
document.addEventListener("htmx:responseError", (event) => {
  const form = event.detail.elt.closest("form");
  const status = form && form.querySelector(".card-status");
  if (!status) return;
  const text = new DOMParser().parseFromString(event.detail.xhr.responseText, "text/html").body.textContent;
  status.textContent = (text || "The run failed.").trim();
});
document.addEventListener("htmx:sendError", (event) => {
  const status = event.detail.elt.closest("form")?.querySelector(".card-status");
  if (status) status.textContent = "The course server did not answer. Is it still running?";
});
