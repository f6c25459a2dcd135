// The doctor's call panel: one click (or one key) per action, each a JSON
// call; the lists refresh from the server after every action and whenever
// a board of one of the doctor's queues changes (server-sent events).
(function () {
  "use strict";
  const root = document.getElementById("panel");
  const csrf = root.dataset.csrf;
  const text = JSON.parse(document.getElementById("panel-text").textContent);
  let state = JSON.parse(document.getElementById("panel-data").textContent);
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

  function say(message, ok) {
    const m = $("msg");
    m.textContent = message;
    m.className = "alert " + (ok ? "alert-ok" : "alert-error");
    m.hidden = !message;
  }

  async function api(method, path, body) {
    let r;
    try {
      r = await fetch(path, {
        method,
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
      });
    } catch (e) {
      say(text.network, false);
      return null;
    }
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      say(data.detail || data.title || r.statusText, false);
      return null;
    }
    return data;
  }

  // The patient with this doctor now (the server lists only the doctor's own).
  const current = () => state.calling[0];

  function render() {
    root.classList.toggle("is-paused", state.paused);
    $("paused-tag").hidden = !state.paused;
    const cur = current();
    $("current").innerHTML = cur
      ? `<p class="now-seq">${esc(cur.seq)}</p><p class="now-name">${esc(cur.name)}${cur.tag ? ` <span class="tag tag-warn">${esc(cur.tag)}</span>` : ""}</p>
         <p class="muted">${esc(cur.room)} · ${esc(text.calls.replace("{n}", cur.calls))}</p>
         <form method="post" action="/visits/open/${esc(cur.booking_id)}"><input type="hidden" name="_csrf" value="${esc(csrf)}"><button class="btn btn-primary" type="submit" data-testid="q-open-visit">${esc(text.open)}</button></form>`
      : `<p class="muted">${esc(text.none)}</p>`;
    $("waiting-count").textContent = `(${state.waiting.length})`;
    $("waiting").innerHTML = state.waiting.length
      ? state.waiting.map((l) => `<tr data-id="${esc(l.booking_id)}"><td>${esc(l.seq)}</td><td>${esc(l.name)}${l.tag ? ` <span class="tag tag-warn">${esc(l.tag)}</span>` : ""}${l.late ? ` <span class="tag">${esc(text.late)}</span>` : ""}</td><td>${esc(l.room)}</td><td>${esc(l.checked_in)}</td><td><button class="btn btn-small" data-call="${esc(l.booking_id)}">${esc(text.call)}</button></td></tr>`).join("")
      : `<tr><td colspan="5" class="muted">${esc(text.empty)}</td></tr>`;
    $("away").innerHTML = state.away.length
      ? state.away.map((l) => `<tr><td>${esc(l.seq)}</td><td>${esc(l.name)}</td><td><span class="tag">${esc(l.status_name)}</span></td><td>${esc(l.room)}</td></tr>`).join("")
      : `<tr><td class="muted">${esc(text.empty)}</td></tr>`;
  }

  async function refresh() {
    const p = await api("GET", "/api/queue/panel");
    if (p) {
      state = p;
      render();
    }
  }

  async function act(kind) {
    const cur = current();
    let r;
    if (kind === "next") {
      r = await api("POST", "/api/queue/next");
      if (r) say(r.announce, true);
    } else if (kind === "pause") {
      r = await api("POST", "/api/queue/pause", { paused: !state.paused });
      if (r) { state = r; render(); say("", true); return; }
    } else if (kind === "transfer") {
      const to = $("transfer-to").value;
      if (!cur) return say(text.none, false);
      r = await api("POST", `/api/queue/entries/${cur.booking_id}/transfer`, { to });
    } else {
      if (!cur) return say(text.none, false);
      r = await api("POST", `/api/queue/entries/${cur.booking_id}/${kind}`);
      if (r) say("", true);
    }
    if (r) await refresh();
  }

  root.addEventListener("click", (e) => {
    const b = e.target.closest("[data-act]");
    if (b) return act(b.dataset.act);
    const c = e.target.closest("[data-call]");
    if (c) {
      api("POST", `/api/queue/entries/${c.dataset.call}/call`).then((r) => { if (r) { say(r.announce, true); refresh(); } });
    }
  });

  $("choose").addEventListener("submit", async (e) => {
    e.preventDefault();
    const sessions = [...e.target.querySelectorAll("input[name=sessions]:checked")].map((i) => i.value);
    if (!sessions.length) return say(text.choose_one, false);
    const p = await api("POST", "/api/queue/panel", { sessions });
    if (p) { state = p; render(); say("", true); }
  });

  // Keyboard shortcuts, unless typing in a field.
  const keys = { n: "next", r: "call_again", p: "pass", t: "test", f: "finish", s: "pause" };
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName)) return;
    const k = keys[e.key.toLowerCase()];
    if (k) { e.preventDefault(); act(k); }
  });

  // Any change to the doctor's queues (a new check-in, another doctor's call) refreshes the lists.
  const events = new EventSource("/api/queue/events");
  events.addEventListener("board", (e) => {
    const b = JSON.parse(e.data);
    if (state.choices.some((c) => c.chosen && c.id === b.session_id)) soon();
  });
  let timer = null;
  function soon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 150);
  }
  render();
})();
