// Perch's flow editor: YAML highlighting behind the textarea, line numbers, and validation as
// you type (a debounced POST to /ui/flows/validate). Without this script the textarea and the
// Save button work alone, and Save reports the same problems.
"use strict";
(() => {
  const DELAY = 400;

  const escapeHtml = (text) =>
    text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

  const span = (kind, text) => `<span class="tok-${kind}">${text}</span>`;

  // `{{ … }}` and `{% … %}` inside a piece of text, the rest escaped.
  const withExpressions = (text) => {
    let out = "";
    let rest = text;
    for (;;) {
      const open = rest.search(/\{\{|\{%/);
      if (open < 0) return out + escapeHtml(rest);
      const closer = rest[open + 1] === "{" ? "}}" : "%}";
      const close = rest.indexOf(closer, open + 2);
      const end = close < 0 ? rest.length : close + 2;
      out += escapeHtml(rest.slice(0, open)) + span("expr", escapeHtml(rest.slice(open, end)));
      rest = rest.slice(end);
    }
  };

  // The end (exclusive) of the quoted string starting at `start`.
  const stringEnd = (line, start) => {
    const quote = line[start];
    for (let i = start + 1; i < line.length; i += 1) {
      if (quote === '"' && line[i] === "\\") {
        i += 1;
      } else if (line[i] === quote) {
        if (quote === "'" && line[i + 1] === "'") {
          i += 1;
        } else {
          return i + 1;
        }
      }
    }
    return line.length;
  };

  const KEY = /^(\s*(?:-\s+)*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s#'"{\-][^#]*?|-[^\s#][^#]*?)(\s*:)(?=\s|$)/;
  const DASHES = /^(\s*)((?:-\s+)+|-$)/;
  const BLOCK = /[|>][-+0-9]*\s*(#.*)?$/;

  const valueHtml = (line) => {
    let out = "";
    let plain = "";
    const flush = () => {
      out += withExpressions(plain);
      plain = "";
    };
    for (let i = 0; i < line.length; ) {
      const ch = line[i];
      if ((ch === '"' || ch === "'") && (i === 0 || /[\s,[{:]/.test(line[i - 1]))) {
        flush();
        const end = stringEnd(line, i);
        out += `<span class="tok-string">${withExpressions(line.slice(i, end))}</span>`;
        i = end;
      } else if (ch === "#" && (i === 0 || /\s/.test(line[i - 1]))) {
        flush();
        out += span("comment", escapeHtml(line.slice(i)));
        break;
      } else {
        plain += ch;
        i += 1;
      }
    }
    flush();
    return out;
  };

  // One line of YAML as HTML; `state.block` is the indent of a block scalar being read.
  const lineHtml = (line, state) => {
    const indent = line.length - line.trimStart().length;
    if (state.block !== null) {
      if (line.trim() === "" || indent > state.block) return withExpressions(line);
      state.block = null;
    }
    if (/^\s*#/.test(line)) return span("comment", escapeHtml(line));
    if (/^(---|\.\.\.)\s*$/.test(line)) return span("comment", escapeHtml(line));
    let out = "";
    let rest = line;
    const key = KEY.exec(line);
    if (key) {
      const lead = key[1];
      const dash = lead.indexOf("-");
      out += dash < 0 ? lead : lead.slice(0, dash) + span("dash", escapeHtml(lead.slice(dash)));
      out += span("key", escapeHtml(key[2])) + escapeHtml(key[3]);
      rest = line.slice(key[0].length);
      if (BLOCK.test(rest.trim()) && /^\s*[|>]/.test(rest)) state.block = indent;
    } else {
      const dashes = DASHES.exec(line);
      if (dashes) {
        out += dashes[1] + span("dash", escapeHtml(dashes[2]));
        rest = line.slice(dashes[0].length);
      }
    }
    return out + valueHtml(rest);
  };

  const highlight = (source) => {
    const state = { block: null };
    return source
      .split("\n")
      .map((line) => lineHtml(line, state))
      .join("\n");
  };

  const enhance = (form, area) => {
    const frame = document.createElement("div");
    frame.className = "code";
    const gutter = document.createElement("pre");
    gutter.className = "gutter";
    gutter.setAttribute("aria-hidden", "true");
    const shown = document.createElement("pre");
    shown.className = "highlight";
    shown.setAttribute("aria-hidden", "true");
    const code = document.createElement("code");
    shown.appendChild(code);
    area.parentNode.insertBefore(frame, area);
    frame.appendChild(gutter);
    frame.appendChild(shown);
    frame.appendChild(area);
    area.classList.add("overlaid");

    const status = document.getElementById("problems-status");
    const list = document.getElementById("problem-list");
    let bad = new Set();
    let timer = null;
    let asked = 0;

    const paint = () => {
      const source = area.value;
      // A trailing newline needs a line of its own in the <pre> to keep the heights equal.
      code.innerHTML = highlight(source) + "\n ";
      const count = source.split("\n").length;
      const numbers = [];
      for (let n = 1; n <= count; n += 1) {
        numbers.push(bad.has(n) ? `<span class="bad">${n}</span>` : String(n));
      }
      gutter.innerHTML = numbers.join("\n") + "\n ";
      sync();
    };

    const sync = () => {
      shown.scrollTop = area.scrollTop;
      shown.scrollLeft = area.scrollLeft;
      gutter.scrollTop = area.scrollTop;
    };

    const goTo = (line) => {
      const lines = area.value.split("\n");
      let offset = 0;
      for (let n = 1; n < line && n <= lines.length; n += 1) offset += lines[n - 1].length + 1;
      area.focus();
      area.setSelectionRange(offset, offset + (lines[line - 1] || "").length);
      const height = parseFloat(getComputedStyle(area).lineHeight) || 20;
      area.scrollTop = Math.max(0, (line - 3) * height);
      sync();
    };

    const show = (answer) => {
      const problems = answer.problems || [];
      bad = new Set(problems.filter((p) => p.line).map((p) => p.line));
      list.replaceChildren();
      for (const p of problems) {
        const item = document.createElement("li");
        item.className = "error";
        if (p.line) {
          const where = document.createElement("button");
          where.type = "button";
          where.className = "where link";
          where.textContent = `Line ${p.line}` + (p.column ? `, column ${p.column}` : "");
          where.addEventListener("click", () => goTo(p.line));
          item.appendChild(where);
        } else {
          const where = document.createElement("span");
          where.className = "where";
          where.textContent = "Flow";
          item.appendChild(where);
        }
        if (p.path) {
          item.appendChild(document.createTextNode(" "));
          const path = document.createElement("code");
          path.textContent = p.path;
          item.appendChild(path);
        }
        item.appendChild(document.createTextNode(`: ${p.message}`));
        list.appendChild(item);
      }
      const n = problems.length;
      status.textContent = n ? `${n} problem${n === 1 ? "" : "s"}` : "No problems found.";
      status.className = n ? "error" : "ok";
      if (n) area.setAttribute("aria-invalid", "true");
      else area.removeAttribute("aria-invalid");
      paint();
    };

    const validate = async () => {
      const ticket = (asked += 1);
      const body = new FormData();
      body.append("csrf", form.querySelector("input[name=csrf]").value);
      body.append("source", area.value);
      body.append("namespace", form.dataset.namespace || "");
      body.append("flow_id", form.dataset.flowId || "");
      try {
        const answer = await fetch(form.dataset.validate, {
          method: "POST",
          body,
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        if (ticket !== asked) return; // a newer check is on its way
        if (!answer.ok) {
          status.textContent = "Could not check the flow (reload the page if this stays).";
          return;
        }
        show(await answer.json());
      } catch (error) {
        if (ticket === asked) status.textContent = "Could not check the flow: " + error.message;
      }
    };

    area.addEventListener("input", () => {
      paint();
      clearTimeout(timer);
      timer = setTimeout(validate, DELAY);
    });
    area.addEventListener("scroll", sync);
    paint();
    validate();
  };

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.querySelector("form[data-validate]");
    const area = form && form.querySelector("textarea[data-yaml]");
    if (form && area) enhance(form, area);
  });
})();
