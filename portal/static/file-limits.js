// A file box with data-portal-max-files / data-portal-max-bytes says at once when the chosen files break
// its limits, in the page's own words (data-portal-too-many, data-portal-too-large). Without this the
// browser would send every byte first, and a post over the server's limit loses the words typed on the
// page. The server still checks everything; this only saves the wait and the loss.
(function () {
  "use strict";
  function problem(input) {
    var files = input.files || [];
    var maxFiles = parseInt(input.getAttribute("data-portal-max-files") || "0", 10);
    var maxBytes = parseInt(input.getAttribute("data-portal-max-bytes") || "0", 10);
    if (maxFiles && files.length > maxFiles) {
      return input.getAttribute("data-portal-too-many").replace("{count}", String(files.length));
    }
    for (var i = 0; i < files.length; i++) {
      if (maxBytes && files[i].size > maxBytes) {
        return input.getAttribute("data-portal-too-large").replace("{name}", files[i].name);
      }
    }
    return "";
  }
  function show(input) {
    var id = input.id + "-limit";
    var box = document.getElementById(id);
    var message = problem(input);
    var described = (input.getAttribute("aria-describedby") || "").split(" ").filter(function (x) {
      return x && x !== id;
    });
    if (!message) {
      if (box) box.parentNode.removeChild(box);
      input.classList.remove("is-invalid");
      input.removeAttribute("aria-invalid");
      input.setAttribute("aria-describedby", described.join(" "));
      return "";
    }
    if (!box) {
      box = document.createElement("div");
      box.id = id;
      box.className = "invalid-feedback d-block";
      box.setAttribute("role", "alert");
      input.parentNode.insertBefore(box, input.nextSibling);
    }
    box.textContent = message;
    input.classList.add("is-invalid");
    input.setAttribute("aria-invalid", "true");
    described.push(id);
    input.setAttribute("aria-describedby", described.join(" "));
    return message;
  }
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input.matches && input.matches("input[type=file][data-portal-max-bytes]")) show(input);
  });
  document.addEventListener("submit", function (event) {
    var inputs = event.target.querySelectorAll("input[type=file][data-portal-max-bytes]");
    for (var i = 0; i < inputs.length; i++) {
      if (show(inputs[i])) {
        event.preventDefault();
        event.stopImmediatePropagation();
        inputs[i].focus();
        return;
      }
    }
  }, true);
})();
