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
// The execution page's logs follow live (server-sent events) while the execution runs. Each
// line is built from text nodes: what a task logged is never read as HTML.
document.addEventListener("DOMContentLoaded", () => {
  const list = document.querySelector("ol.logs[data-follow]");
  if (!list || !window.EventSource) return;
  const source = new EventSource(list.dataset.follow);
  let replaced = false;
  const part = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    node.textContent = text;
    return node;
  };
  source.addEventListener("line", (event) => {
    const line = JSON.parse(event.data);
    if (!replaced) {
      // The stream replays every line from the start: it replaces what the page was sent.
      list.replaceChildren();
      replaced = true;
    }
    const item = document.createElement("li");
    item.className = "level-" + line.level.replace(/[^A-Z]/g, "");
    item.append(part("time", "", line.time), " ", part("span", "lvl", line.level));
    if (line.task) item.append(" ", part("span", "task", line.task));
    item.append(" ", part("span", "msg", line.message));
    list.append(item);
  });
  source.addEventListener("end", () => {
    source.close();
    // The execution ended: show its final state, timeline and outputs.
    setTimeout(() => location.reload(), 500);
  });
});
