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
  function setState(on) {
    speaking = on;
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.textContent = on ? "Stop reading" : "Read aloud";
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    if (speaking) {
      window.speechSynthesis.cancel();
      setState(false);
      return;
    }
    var utterance = new SpeechSynthesisUtterance(target.innerText);
    utterance.lang = document.documentElement.lang || "en-GB";
    utterance.rate = 0.9;
    utterance.onend = function () { setState(false); };
    utterance.onerror = function () { setState(false); };
    window.speechSynthesis.cancel();
    window.speechSynthesis.speak(utterance);
    setState(true);
  });
})();
