/* Passkeys (WebAuthn): add one on the Security page, or use one to finish signing in.
 * The server sends the options as JSON; the browser's answer goes back in the form's hidden
 * "credential" field and the form is submitted as usual (so the result is an ordinary page). */
(function () {
  "use strict";

  function supported() {
    return window.PublicKeyCredential && typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function" &&
      typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";
  }

  function setUp(form, creating) {
    var button = form.querySelector(creating ? "[data-passkey-create]" : "[data-passkey-get]");
    var message = form.querySelector("[data-passkey-message]");
    if (!button || !message) { return; }
    if (!supported()) {
      message.textContent = "This browser cannot use passkeys. Use a code instead, or another browser.";
      return;
    }
    button.hidden = false;
    message.textContent = creating ? "A passkey uses this device's screen lock or a security key." : "";
    button.addEventListener("click", function () {
      var name = form.querySelector("input[name='name']");
      if (creating && !name.value.trim()) {
        message.textContent = "Give the passkey a name first, like “Work laptop”.";
        name.focus();
        return;
      }
      button.disabled = true;
      message.textContent = "Follow your browser's instructions.";
      var tokenField = form.querySelector("input[name='csrf_token']");
      fetch(form.getAttribute("data-options-url"), {
        method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": tokenField ? tokenField.value : "", "Accept": "application/json" }
      })
        .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
        .then(function (options) {
          return creating
            ? navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) })
            : navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) });
        })
        .then(function (credential) {
          form.querySelector("input[name='credential']").value = JSON.stringify(credential.toJSON());
          message.textContent = "Checking…";
          form.submit();
        })
        .catch(function () {
          button.disabled = false;
          message.textContent = "That did not work. Try again, or use a code.";
        });
    });
  }

  var add = document.getElementById("passkey-add");
  if (add) { setUp(add, true); }
  var signIn = document.getElementById("passkey-sign-in");
  if (signIn) { setUp(signIn, false); }
}());
