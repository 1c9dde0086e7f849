/* Classroom sessions, progressive enhancement (the pages work without this file).
 * 1. Read aloud: buttons with data-read-aloud="#id" read that element with speechSynthesis.
 * 2. Live progress: an element with data-progress-url polls it every few seconds and updates
 *    the count, the list of pupils still to agree and the "agreed in this session" table. */
(function () {
  "use strict";

  if ("speechSynthesis" in window && "SpeechSynthesisUtterance" in window) {
    document.querySelectorAll("[data-read-aloud]").forEach(function (button) {
      // One or more parts of the page (a CSS selector list), read one after the other.
      var parts = Array.prototype.slice.call(document.querySelectorAll(button.getAttribute("data-read-aloud")));
      if (!parts.length) { return; }
      var label = button.querySelector("[data-read-aloud-label]");
      var start = label ? label.textContent : "";
      var stop = button.getAttribute("data-label-stop");
      function reading(on) {
        button.setAttribute("aria-pressed", on ? "true" : "false");
        if (label && stop) { label.textContent = on ? stop : start; }
      }
      button.hidden = false;
      button.addEventListener("click", function () {
        if (button.getAttribute("aria-pressed") === "true") {  // pressed again: stop
          window.speechSynthesis.cancel();
          reading(false);
          return;
        }
        window.speechSynthesis.cancel();
        // Each part in its own language (walk finding: the policy's English text was read with a Welsh
        // voice on a Welsh page): the nearest lang attribute, else the page's.
        var last = null;
        parts.forEach(function (el) {
          var holder = el.closest("[lang]");
          var utterance = new SpeechSynthesisUtterance(el.innerText.trim());
          utterance.lang = (holder && holder.getAttribute("lang")) || document.documentElement.lang || "en-GB";
          utterance.rate = 0.9;
          utterance.onerror = function () { reading(false); };
          window.speechSynthesis.speak(utterance);
          last = utterance;
        });
        if (last) { last.onend = function () { reading(false); }; }
        reading(true);
      });
    });
  }

  var box = document.querySelector("[data-progress-url]");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-progress-url");
  var done = box.querySelector("[data-done]");
  var total = box.querySelector("[data-total]");
  var missing = box.querySelector("[data-missing]");
  var entries = document.querySelector("[data-entries]");
  var lastEntries = null;

  function renderEntries(html) {
    // The server draws the table (same template as the page, escaped there); only swap it when
    // it changed and nobody is about to press one of its buttons.
    if (!entries || typeof html !== "string" || html === lastEntries) { return; }
    if (entries.contains(document.activeElement) && document.activeElement !== document.body) { return; }
    lastEntries = html;
    var doc = new DOMParser().parseFromString("<div>" + html + "</div>", "text/html");
    entries.replaceChildren.apply(entries, Array.prototype.slice.call(doc.body.firstChild.childNodes));
  }

  function render(data) {
    if (String(data.done) !== done.textContent) { done.textContent = data.done; }
    if (String(data.total) !== total.textContent) { total.textContent = data.total; }
    var names = data.missing.length ? data.missing : [missing.getAttribute("data-nobody") || "Nobody – everyone has agreed."];
    var current = Array.prototype.map.call(missing.children, function (li) { return li.textContent; });
    if (current.join("\n") !== names.join("\n")) {
      missing.replaceChildren.apply(missing, names.map(function (name) {
        var li = document.createElement("li");
        li.textContent = name;
        return li;
      }));
    }
    renderEntries(data.entries_html);
    return !data.closed;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (!data || render(data)) { window.setTimeout(poll, 4000); } })
      .catch(function () { window.setTimeout(poll, 8000); });
  }
  window.setTimeout(poll, 4000);
})();
