// Contact incident form: say, as soon as a pupil and an adult are chosen, whether an
// approved family link covers them. The server answers yes or no only.
(function () {
  "use strict";
  var form = document.getElementById("contact-form");
  var status = document.getElementById("link-status");
  if (!form || !status) { return; }
  function chosenPupil() {
    var checked = form.querySelector("input[name='pupil_id']:checked");
    return checked ? checked.value : "";
  }
  function update() {
    var pupil = chosenPupil();
    var adult = form.querySelector("select[name='adult_id']").value;
    if (!pupil || !adult || adult === "0") {
      status.textContent = "Choose a pupil and an adult to see whether an approved family link covers them.";
      status.className = "alert alert-light border";
      return;
    }
    var url = status.dataset.url + "?pupil_id=" + encodeURIComponent(pupil) + "&adult_id=" + encodeURIComponent(adult);
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (data) {
        status.textContent = data.message;
        status.className = "alert border " + (data.covered ? "alert-info" : "alert-light");
        status.dataset.covered = data.covered ? "yes" : "no";
      })
      .catch(function () { status.textContent = "Could not check for a family link just now."; });
  }
  form.addEventListener("change", function (e) {
    if (e.target.name === "pupil_id" || e.target.name === "adult_id") { update(); }
  });
}());
