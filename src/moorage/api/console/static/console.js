// moorage console: the few behaviours a page needs, without inline scripts (the CSP forbids them).
"use strict";

// Copy buttons: <button class="copy" data-copy="ID"> copies the value of the input ID.
function copyCommand(button) {
  const field = document.getElementById(button.dataset.copy);
  const status = document.getElementById("copy-status");
  if (!field) return;
  const done = () => { if (status) status.textContent = "Copied: " + field.value; };
  field.select();
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done, () => { document.execCommand("copy"); done(); });
  } else {
    document.execCommand("copy");
    done();
  }
}

// Live regions: <div data-live="URL"> reloads its content from URL every two seconds while the
// content says data-running="true" (an execution still in progress).
function watch(region) {
  const running = () => {
    const body = region.querySelector("[data-running]");
    return body !== null && body.dataset.running === "true";
  };
  const tick = () => {
    if (!running()) return;
    fetch(region.dataset.live, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then((answer) => (answer.ok ? answer.text() : Promise.reject(answer.status)))
      .then((html) => {
        const parsed = new DOMParser().parseFromString(html, "text/html");
        const body = parsed.querySelector(".live-body");
        if (body) region.replaceChildren(document.importNode(body, true));
      })
      .catch(() => {})
      .finally(() => setTimeout(tick, 2000));
  };
  setTimeout(tick, 2000);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("button.copy").forEach((b) => b.addEventListener("click", () => copyCommand(b)));
  document.querySelectorAll("[data-live]").forEach(watch);
});
