// Perch's own script: confirmations before acting, and the live refresh of lists.
// Every page works without it.
"use strict";
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const button = event.submitter;
  const question = (button && button.dataset.confirm) || form.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
document.addEventListener("DOMContentLoaded", () => {
  const live = document.querySelector("input[data-live]");
  if (!live) return;
  const key = "perch-live:" + location.pathname;
  live.checked = sessionStorage.getItem(key) === "1";
  let timer = null;
  const arm = () => {
    clearTimeout(timer);
    if (live.checked) timer = setTimeout(() => location.reload(), 5000);
  };
  live.addEventListener("change", () => {
    sessionStorage.setItem(key, live.checked ? "1" : "0");
    arm();
  });
  arm();
});
