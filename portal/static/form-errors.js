// A form sent back with errors: move the focus to its summary, so that the errors are seen and read out
// first, wherever the form is on the page (the signing form sits below a long policy). Focusing the
// summary scrolls it into view. Each error whose control is on the page becomes a link to that control.
(function () {
  "use strict";
  var items = document.querySelectorAll(".portal-form-errors li[data-portal-control]");
  Array.prototype.forEach.call(items, function (item) {
    var id = item.getAttribute("data-portal-control");
    if (!document.getElementById(id)) { return; }
    var link = document.createElement("a");
    link.href = "#" + id;
    link.className = "alert-link";
    while (item.firstChild) { link.appendChild(item.firstChild); }
    item.appendChild(link);
  });
  // Someone who already chose a field while a slow page was still loading keeps it.
  var summary = document.querySelector(".portal-form-errors");
  var chosen = document.activeElement && document.activeElement !== document.body;
  if (summary && !chosen) { summary.focus(); }
})();
