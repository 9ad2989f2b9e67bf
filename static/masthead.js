// Masthead pages. Loaded from /static: the Content-Security-Policy allows no inline scripts.
(function () {
  "use strict";

  // A signup form fills in where the reader came from, unless the server already did.
  function fillAttribution(form) {
    var query = new URLSearchParams(location.search);
    ["utm_source", "utm_medium", "utm_campaign", "ref"].forEach(function (name) {
      if (form[name] && query.get(name) && !form[name].value) form[name].value = query.get(name);
    });
    if (form.referrer_url && !form.referrer_url.value) form.referrer_url.value = document.referrer;
    if (form.landing_url && !form.landing_url.value) form.landing_url.value = location.href;
  }

  // Styles may fold what this script can unfold (the admin's navigation on a phone).
  document.documentElement.classList.add("js");

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("button.nav-toggle").forEach(function (button) {
      var nav = document.getElementById(button.getAttribute("aria-controls"));
      if (!nav) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        var open = nav.classList.toggle("open");
        button.setAttribute("aria-expanded", String(open));
      });
    });
    document.querySelectorAll("form[data-attribution]").forEach(fillAttribution);
    // A read-only link field selects itself when clicked, ready to copy.
    document.querySelectorAll("input[data-select-on-click]").forEach(function (input) {
      input.addEventListener("click", function () { input.select(); });
    });
    // A "Copy" button copies the field it names.
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var field = document.getElementById(button.getAttribute("data-copy"));
        if (field && navigator.clipboard) navigator.clipboard.writeText(field.value);
      });
    });
  });
})();
