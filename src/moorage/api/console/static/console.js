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

// Live regions: <div data-live="URL" data-state="ID"> reloads its content from URL every two seconds
// while the content says data-running="true" (an execution still in progress); the element ID says
// whether the table is following the execution, when it last did, or that a refresh failed.
function watch(region) {
  const state = document.getElementById(region.dataset.state || "");
  const say = (text, failed) => {
    if (!state) return;
    state.textContent = text;
    state.classList.toggle("alert", Boolean(failed));
  };
  const running = () => {
    const body = region.querySelector("[data-running]");
    return body !== null && body.dataset.running === "true";
  };
  const tick = () => {
    if (!running()) { say("Up to date.", false); return; }
    region.setAttribute("aria-busy", "true");
    fetch(region.dataset.live, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then((answer) => (answer.ok ? answer.text() : Promise.reject(answer.status)))
      .then((html) => {
        const parsed = new DOMParser().parseFromString(html, "text/html");
        const body = parsed.querySelector(".live-body");
        if (body) region.replaceChildren(document.importNode(body, true));
        const when = new Date().toLocaleTimeString();
        say(running() ? "Following the running execution (refreshed " + when + ")." : "Up to date.", false);
      })
      .catch((code) => say("Could not refresh (" + code + "); trying again.", true))
      .finally(() => {
        region.removeAttribute("aria-busy");
        if (running()) setTimeout(tick, 2000);
      });
  };
  if (running()) say("Following the running execution.", false);
  setTimeout(tick, 2000);
}

// Busy state: a <form data-busy="Scanning…"> shows it is working once submitted: its buttons are
// disabled (no second submit), the one pressed says the form's data-busy text, and the form is
// aria-busy. The pressed button's name and value still go with the form (a hidden copy).
function busyOnSubmit(form) {
  form.addEventListener("submit", (event) => {
    if (form.getAttribute("aria-busy") === "true") { event.preventDefault(); return; }
    const pressed = event.submitter;
    if (pressed && pressed.name) {
      const copy = document.createElement("input");
      copy.type = "hidden";
      copy.name = pressed.name;
      copy.value = pressed.value;
      form.appendChild(copy);
    }
    form.setAttribute("aria-busy", "true");
    form.classList.add("busy");
    form.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    if (pressed) {
      const label = pressed.querySelector(".label") || pressed;
      label.textContent = form.dataset.busy;
    }
  });
}

// Downloads that take a while (an SBOM is built on request): <a data-download> fetches the file,
// saying "Preparing…" meanwhile, then hands it to the browser; a failure is said in the page's
// status region. Without this script the link downloads as a plain link.
function busyDownload(link) {
  link.addEventListener("click", (event) => {
    event.preventDefault();
    if (link.getAttribute("aria-busy") === "true") return;
    const status = document.getElementById("download-status");
    const text = link.textContent;
    link.setAttribute("aria-busy", "true");
    link.classList.add("busy");
    link.textContent = "Preparing " + text + "…";
    if (status) status.textContent = "";
    fetch(link.href, { credentials: "same-origin" })
      .then((answer) => (answer.ok ? answer.blob().then((blob) => [answer, blob]) : Promise.reject(answer.status)))
      .then(([answer, blob]) => {
        const named = /filename="([^"]+)"/.exec(answer.headers.get("Content-Disposition") || "");
        const url = URL.createObjectURL(blob);
        const save = document.createElement("a");
        save.href = url;
        save.download = named ? named[1] : "sbom.json";
        document.body.appendChild(save);
        save.click();
        save.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      })
      .catch((code) => { if (status) status.textContent = "The download failed (" + code + "): try again."; })
      .finally(() => {
        link.textContent = text;
        link.removeAttribute("aria-busy");
        link.classList.remove("busy");
      });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("button.copy").forEach((b) => b.addEventListener("click", () => copyCommand(b)));
  document.querySelectorAll("[data-live]").forEach(watch);
  document.querySelectorAll("form[data-busy]").forEach(busyOnSubmit);
  document.querySelectorAll("a[data-download]").forEach(busyDownload);
});
