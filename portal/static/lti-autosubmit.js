// Send the deep-linking answer back to the LMS without an extra click (the button stays for no-JS).
document.getElementById("lti-deep-link-return").submit();
