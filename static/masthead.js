// Masthead pages. Loaded from /static: the Content-Security-Policy allows no inline scripts.
(function () {
  "use strict";

  // A signup form fills in where the reader came from, unless the server already did.
  function fillAttribution(form) {
    var query = new URLSearchParams(location.search);
    ["utm_source", "utm_medium", "utm_campaign", "ref", "partner"].forEach(function (name) {
      if (form[name] && query.get(name) && !form[name].value) form[name].value = query.get(name);
    });
    if (form.referrer_url && !form.referrer_url.value) form.referrer_url.value = document.referrer;
    if (form.landing_url && !form.landing_url.value) form.landing_url.value = location.href;
  }

  // Styles may fold what this script can unfold (the admin's navigation on a phone).
  document.documentElement.classList.add("js");

  // The writing desk: insert text at the cursor of a textarea.
  function insertAt(area, text) {
    var start = area.selectionStart, end = area.selectionEnd;
    area.value = area.value.slice(0, start) + text + area.value.slice(end);
    area.selectionStart = area.selectionEnd = start + text.length;
    area.focus();
    area.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // The previews are the editor's form submitted to each preview frame (no data leaves otherwise).
  function previewInto(form) {
    var action = form.getAttribute("action"), target = form.getAttribute("target");
    [["/admin/posts/preview/web", "preview-web"], ["/admin/posts/preview/email", "preview-email"]].forEach(function (pair) {
      form.setAttribute("action", pair[0]);
      form.setAttribute("target", pair[1]);
      HTMLFormElement.prototype.submit.call(form);
    });
    form.setAttribute("action", action);
    if (target === null) form.removeAttribute("target"); else form.setAttribute("target", target);
  }

  function livePreview(form) {
    var timer = null;
    function later() { clearTimeout(timer); timer = setTimeout(function () { previewInto(form); }, 700); }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    var button = form.querySelector("[data-preview-button]");
    if (button) button.addEventListener("click", function (event) { event.preventDefault(); previewInto(form); });
    previewInto(form);
  }

  function imageUpload(form) {
    var area = document.getElementById(form.getAttribute("data-image-upload"));
    var status = form.querySelector("[data-upload-status]");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      status.textContent = "Uploading…";
      fetch(form.action, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { "X-CSRFToken": form.csrf_token.value, "Accept": "application/json" }
      }).then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      }).then(function (answer) {
        if (!answer.ok) { status.textContent = answer.body.error ? answer.body.error.message : "Upload failed."; return; }
        insertAt(area, "\n\n" + answer.body.markdown + "\n\n");
        status.textContent = "Inserted.";
        form.reset();
      }).catch(function () { status.textContent = "Upload failed."; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-live-preview]").forEach(livePreview);
    document.querySelectorAll("form[data-image-upload]").forEach(imageUpload);
    document.querySelectorAll("button[data-insert-paywall]").forEach(function (button) {
      button.addEventListener("click", function () {
        insertAt(document.getElementById(button.getAttribute("data-insert-paywall")), "\n\n<!-- paywall -->\n\n");
      });
    });
    // A one-click poll (content.poll_syntax): a block the writer fills in.
    document.querySelectorAll("button[data-insert-poll]").forEach(function (button) {
      button.addEventListener("click", function () {
        var area = document.getElementById(button.getAttribute("data-insert-poll"));
        var n = (area.value.match(/^\[poll /gm) || []).length + 1;
        insertAt(area, "\n\n[poll question" + n + "] Your question?\n- First answer\n- Second answer\n[/poll]\n\n");
      });
    });
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
        // A referral ask's Copy is a share click: tell the server, without waiting for it.
        var beacon = button.getAttribute("data-copy-beacon");
        if (beacon && navigator.sendBeacon) navigator.sendBeacon(beacon);
      });
    });
  });
})();
