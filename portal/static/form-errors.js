// A form sent back with errors: move the focus to its summary, so that the errors are seen and read out
// first, wherever the form is on the page (the signing form sits below a long policy). Focusing the
// summary scrolls it into view.
(function () {
  "use strict";
  var summary = document.querySelector(".portal-form-errors");
  if (summary) { summary.focus(); }
})();
