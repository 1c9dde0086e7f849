/* Read a policy aloud with the browser's own speech synthesis (no network, no libraries).
   The button stays hidden where speech synthesis is not available. */
(function () {
  "use strict";
  var button = document.getElementById("read-aloud");
  if (!button || !("speechSynthesis" in window) || typeof SpeechSynthesisUtterance === "undefined") {
    return;
  }
  var target = document.getElementById(button.getAttribute("data-read"));
  if (!target) {
    return;
  }
  var speaking = false;
  // The button's words come from the page (translated); the voice follows the text's language.
  var startLabel = button.getAttribute("data-label-start") || "Read aloud";
  var stopLabel = button.getAttribute("data-label-stop") || "Stop reading";
  function languageOf(el) {
    var holder = el.closest("[lang]");
    return (holder && holder.getAttribute("lang")) || document.documentElement.lang || "en-GB";
  }
  function setState(on) {
    speaking = on;
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.textContent = on ? stopLabel : startLabel;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    if (speaking) {
      window.speechSynthesis.cancel();
      setState(false);
      return;
    }
    // A translation shown above the English is read in its own language (the first section).
    var part = target.querySelector(".policy-translation") || target;
    var utterance = new SpeechSynthesisUtterance(part.innerText);
    utterance.lang = languageOf(part);
    utterance.rate = 0.9;
    utterance.onend = function () { setState(false); };
    utterance.onerror = function () { setState(false); };
    window.speechSynthesis.cancel();
    window.speechSynthesis.speak(utterance);
    setState(true);
  });
})();
