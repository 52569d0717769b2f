// Behaviour of the site's layout, kept out of the HTML so the Content-Security-Policy needs no inline script.
"use strict";

// The language menu applies a choice at once (its form posts to Django's set_language).
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-submit-on-change]")) {
    event.target.form.submit();
  }
});
