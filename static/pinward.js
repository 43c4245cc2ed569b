// pinward: optional niceties only; every page works without this script.
"use strict";
// Forms marked data-confirm ask before submitting (rotate, release, out-of-band,
// deactivate, removing a recovery recipient).
document.addEventListener("submit", (event) => {
  const message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
