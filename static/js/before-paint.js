// Loaded without defer in <head>: presenter mode (larger type) must apply before the first paint,
// or the page would jump when course.js sets it later.
if (localStorage.getItem("presenter") === "1") document.documentElement.classList.add("presenter");
