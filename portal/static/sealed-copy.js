// Shows the sealed PDF copy on a signature's page as soon as it is ready, without reloading.
// Polls the page's JSON status URL (data-status-url), slowing down over time, for at most 3 minutes.
(function () {
  "use strict";
  var box = document.getElementById("sealed-copy");
  if (!box || !box.dataset.statusUrl) { return; }
  var delay = 700;
  var deadline = Date.now() + 180000;

  function show(data) {
    var p = document.createElement("p");
    p.className = "mb-0";
    var a = document.createElement("a");
    a.href = data.pdf_url;
    // The words come from the page (data-* attributes, in the page's language).
    a.textContent = box.dataset.labelDownload || "Download the sealed PDF";
    p.appendChild(a);
    var kb = Math.round((data.size || 0) / 1024);
    p.appendChild(document.createTextNode(" (" + kb + " KB). " + (box.dataset.textReady ||
      "It is ready, with the school's digital seal, so anyone can check it has not been changed.")));
    box.replaceChildren(p);
  }

  function slow() {
    var p = box.querySelector("p");
    if (p && p.dataset.state !== "delayed") {
      p.dataset.state = "delayed";
      p.textContent = box.dataset.textDelayed || "Making the sealed PDF copy is taking longer than usual. " +
        "Your signature is safely recorded; the copy will be in your history when it is ready.";
    }
  }

  function check() {
    fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { state: "pending" }; })
      .then(function (data) {
        if (data.state === "sealed" && data.pdf_url) { show(data); return; }
        if (data.state === "delayed") { slow(); }
        next();
      })
      .catch(next);
  }

  function next() {
    if (Date.now() > deadline) { slow(); return; }
    delay = Math.min(delay * 1.5, 10000);
    window.setTimeout(check, delay);
  }

  window.setTimeout(check, delay);
})();
