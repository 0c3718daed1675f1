// Refreshes the element marked data-src from its URL every 5 s while the page is visible.
(function () {
  var live = document.querySelector("[data-src]");
  if (!live) return;
  var note = document.getElementById("refreshed");
  setInterval(function () {
    if (document.hidden) return;
    fetch(live.dataset.src, { credentials: "same-origin" })
      .then(function (r) { if (r.ok && !r.redirected) return r.text(); throw new Error(r.status); })
      .then(function (html) {
        live.innerHTML = html;
        if (note) note.textContent = "Live: updated " + new Date().toLocaleTimeString();
      })
      .catch(function () { if (note) note.textContent = "Live: paused (signed out or server unreachable)"; });
  }, 5000);
})();
