// A table too wide for the screen scrolls sideways inside its .table-responsive box. Someone using a keyboard
// can only scroll what can take the focus, so such a box becomes a named, focusable region (named by its
// table's caption); a box that fits is left alone, so it adds no stop to the tab order. Checked again when the
// window changes size (a phone turned on its side).
(function () {
  "use strict";
  function mark() {
    document.querySelectorAll(".table-responsive").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        var caption = box.querySelector("caption");
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", caption ? caption.textContent.trim() : (document.title || "Table"));
        box.dataset.portalScrollRegion = "1";
      } else if (!scrolls && box.dataset.portalScrollRegion) {
        ["tabindex", "role", "aria-label", "data-portal-scroll-region"].forEach(function (a) { box.removeAttribute(a); });
      }
    });
  }
  var timer = null;
  window.addEventListener("resize", function () { clearTimeout(timer); timer = setTimeout(mark, 150); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", mark);
  } else {
    mark();
  }
})();
