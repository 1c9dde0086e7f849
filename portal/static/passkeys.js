/* Passkeys (WebAuthn): add one on the Security page, or use one to finish signing in.
 * The server sends the options as JSON; the browser's answer goes back in the form's hidden
 * "credential" field and the form is submitted as usual (so the result is an ordinary page). */
(function () {
  "use strict";

  function supported() {
    return window.PublicKeyCredential && typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function" &&
      typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";
  }

  // The words come from the page (data-say-* on the form), so they are in the reader's language (walk finding:
  // they were English here on a Welsh or Polish page).
  function say(form, key) { return form.getAttribute("data-say-" + key) || ""; }

  function setUp(form, creating) {
    var button = form.querySelector(creating ? "[data-passkey-create]" : "[data-passkey-get]");
    var message = form.querySelector("[data-passkey-message]");
    if (!button || !message) { return; }
    if (!supported()) {
      message.textContent = say(form, "unsupported");
      return;
    }
    button.hidden = false;
    message.textContent = creating ? say(form, "ready") : "";
    button.addEventListener("click", function () {
      var name = form.querySelector("input[name='name']");
      if (creating && !name.value.trim()) {
        message.textContent = say(form, "name-first");
        name.focus();
        return;
      }
      button.disabled = true;
      message.textContent = say(form, "follow");
      var tokenField = form.querySelector("input[name='csrf_token']");
      fetch(form.getAttribute("data-options-url"), {
        method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": tokenField ? tokenField.value : "", "Accept": "application/json" }
      })
        .then(function (r) {
          // Adding a passkey needs the password typed recently: the server says so, and the page to type it opens.
          if (r.status === 403 && form.getAttribute("data-confirm-url")) {
            window.location.assign(form.getAttribute("data-confirm-url"));
            return new Promise(function () {});
          }
          if (!r.ok) { throw new Error(String(r.status)); }
          return r.json();
        })
        .then(function (options) {
          return creating
            ? navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) })
            : navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) });
        })
        .then(function (credential) {
          form.querySelector("input[name='credential']").value = JSON.stringify(credential.toJSON());
          message.textContent = say(form, "checking");
          form.submit();
        })
        .catch(function () {
          button.disabled = false;
          message.textContent = say(form, "failed");
        });
    });
  }

  var add = document.getElementById("passkey-add");
  if (add) { setUp(add, true); }
  var signIn = document.getElementById("passkey-sign-in");
  if (signIn) { setUp(signIn, false); }
}());
