// A page with several forms (a concern's reply, its internal note and its actions) sends one form at a time.
// Text typed into a form marked data-portal-unsent would be lost if another form were sent, or the page left:
// the browser asks first, with the form's own words ("Your reply to the parent has not been sent…").
// The text never leaves the page: nothing is stored in the browser.
(function () {
  "use strict";
  var sending = null;
  function unsent(except) {
    var forms = document.querySelectorAll("form[data-portal-unsent]");
    for (var i = 0; i < forms.length; i++) {
      var form = forms[i];
      if (form === except) continue;
      var fields = form.querySelectorAll("textarea, input[type=text]");
      for (var j = 0; j < fields.length; j++) {
        if (fields[j].value.trim() && fields[j].value !== fields[j].defaultValue) return form;
      }
    }
    return null;
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var other = unsent(form);
    if (other && !window.confirm(other.getAttribute("data-portal-unsent"))) {
      event.preventDefault();
      return;
    }
    sending = form;
  }, true);
  // A page shown again from the browser's back/forward cache, or left after a stopped submit, guards again.
  window.addEventListener("pageshow", function () { sending = null; });
  window.addEventListener("beforeunload", function (event) {
    if (sending) return;  // a form is being sent (and any other form's text was agreed to be left)
    if (unsent(null)) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
})();
