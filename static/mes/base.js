// Behaviour of the site's layout, kept out of the HTML so the Content-Security-Policy needs no inline script.
"use strict";

// The language menu applies a choice at once (its form posts to Django's set_language).
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-submit-on-change]")) {
    event.target.form.submit();
  }
});

// A scan field stays ready for the next scan after htmx swapped in the result: focused, its text selected.
document.addEventListener("htmx:afterSettle", () => {
  const field = document.querySelector("input[data-scan-field]");
  if (field) {
    field.focus();
    field.select();
  }
});
