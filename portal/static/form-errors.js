// A form sent back with errors: move the focus to its summary, so that the errors are seen and read out
// first, wherever the form is on the page (the signing form sits below a long policy). Focusing the
// summary scrolls it into view. Each error whose control is on the page (and can be used) becomes a link
// that moves the focus to that control, with its label or question in view; the address does not change,
// so the form is sent back to the same address and its summary takes the focus again.
(function () {
  "use strict";

  function controlOf(id) {
    var element = document.getElementById(id);
    if (element && !/^(INPUT|SELECT|TEXTAREA)$/.test(element.tagName)) {
      element = element.querySelector("input, select, textarea");  // a list of checkboxes: its first
    }
    return element && !element.disabled && element.type !== "hidden" ? element : null;
  }

  function follow(control) {
    return function (event) {
      event.preventDefault();
      var fieldset = control.closest("fieldset");
      var label = (fieldset && fieldset.querySelector("legend")) ||
        (control.labels && control.labels[0]);
      if (label) { label.scrollIntoView(); }
      control.focus(label ? { preventScroll: true } : undefined);
    };
  }

  // The errors in the order their controls come on the page (walk finding: the signing form listed the tick
  // box and the name before the photo questions above them, because the server lists them as it checks them).
  // Errors without a control on the page keep their place at the top.
  var list = document.querySelector(".portal-form-errors ul");
  if (list) {
    var placed = Array.prototype.filter.call(list.children, function (item) {
      return item.hasAttribute("data-portal-control") && document.getElementById(item.getAttribute("data-portal-control"));
    });
    placed.sort(function (a, b) {
      var first = document.getElementById(a.getAttribute("data-portal-control"));
      var second = document.getElementById(b.getAttribute("data-portal-control"));
      return first.compareDocumentPosition(second) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1;
    });
    placed.forEach(function (item) { list.appendChild(item); });
  }

  var items = document.querySelectorAll(".portal-form-errors li[data-portal-control]");
  Array.prototype.forEach.call(items, function (item) {
    var control = controlOf(item.getAttribute("data-portal-control"));
    if (!control) { return; }
    var link = document.createElement("a");
    link.href = "#" + item.getAttribute("data-portal-control");
    link.className = "alert-link";
    link.addEventListener("click", follow(control));
    while (item.firstChild) { link.appendChild(item.firstChild); }
    item.appendChild(link);
  });

  // Someone who already chose a field while a slow page was still loading keeps it (not a field the
  // address's #fragment focused).
  var summary = document.querySelector(".portal-form-errors");
  var active = document.activeElement;
  var chosen = active && active !== document.body && !(location.hash && active.id === location.hash.slice(1));
  if (summary && !chosen) { summary.focus(); }
})();
