// A TV screen (zone or room): boards arrive over server-sent events, one per
// queue on connect and one per change; after a network drop the browser
// reconnects and the server sends the whole state again. Calls are spoken
// with the browser's Mandarin speech synthesis, one at a time, each repeated
// as configured. `window.dayiSpoken` lists every text spoken (for tests and
// for the hospital's own checks).
(function () {
  "use strict";
  const body = document.body;
  const text = JSON.parse(document.getElementById("scr-text").textContent);
  const boards = new Map();
  const seen = new Map(); // session → the newest revision shown
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  window.dayiSpoken = [];

  function line(l) {
    return `<span class="tv-seq">${esc(l.seq)}</span> <span class="tv-name">${esc(l.name)}</span>${l.tag ? ` <span class="tv-tag">${esc(l.tag)}</span>` : ""}`;
  }

  function card(b) {
    const calling = b.calling.length ? b.calling.map(line).join("<br>") : `<span class="tv-none">${esc(text.none)}</span>`;
    const next = b.next.map((l, i) => `<li class="${i < b.door ? "door" : ""}">${line(l)}${i < b.door ? ` <small>${esc(text.door)}</small>` : ""}</li>`).join("");
    const away = [...b.passed.map((l) => [l, text.passed]), ...b.testing.map((l) => [l, text.testing])]
      .map(([l, what]) => `<span class="tv-away">${esc(l.seq)} ${esc(l.name)} · ${esc(what)}</span>`).join("");
    return `<section class="tv-room${b.paused ? " paused" : ""}" data-session="${esc(b.session_id)}" data-testid="scr-room">
      <h2><span class="tv-room-name">${esc(b.room)}</span> <small>${esc(b.dept)} · ${esc(b.doctor)}</small></h2>
      ${b.paused ? `<p class="tv-paused">${esc(text.paused)}</p>` : ""}
      <div class="tv-calling" data-testid="scr-calling"><small>${esc(text.calling)}</small>${calling}</div>
      <div class="tv-next"><small>${esc(text.next)} · ${esc(text.waiting.replace("{n}", b.waiting))}</small><ol>${next}</ol></div>
      ${away ? `<div class="tv-passed">${away}</div>` : ""}
    </section>`;
  }

  function render() {
    const list = [...boards.values()].sort((a, b) => a.room.localeCompare(b.room, "zh"));
    $("rooms").innerHTML = list.length ? list.map(card).join("") : `<p class="tv-empty">${esc(text.empty)}</p>`;
  }

  // Speech: a queue, so calls never overlap.
  const queue = [];
  let speaking = false;
  let voiceOn = false;
  function pump() {
    if (speaking || !queue.length) return;
    const a = queue.shift();
    speaking = true;
    window.dayiSpoken.push(a.text);
    const banner = $("announce");
    banner.textContent = a.text;
    banner.hidden = false;
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      speaking = false;
      setTimeout(pump, 500);
    };
    // Without a voice (or before it is enabled) the banner still shows for the same time.
    const estimate = (a.text.length * 320) / (a.rate || 1) + 1500;
    setTimeout(done, estimate + (voiceOn ? 4000 : 0));
    if (!voiceOn || !("speechSynthesis" in window)) return;
    const u = new SpeechSynthesisUtterance(a.text);
    u.lang = "zh-CN";
    u.rate = a.rate || 1;
    const zh = speechSynthesis.getVoices().find((v) => /^zh(-|_)?(CN|Hans)?/i.test(v.lang));
    if (zh) u.voice = zh;
    u.onend = done;
    u.onerror = done;
    speechSynthesis.speak(u);
  }
  function announce(a) {
    for (let i = 0; i < Math.max(1, a.repeat || 1); i++) queue.push(a);
    pump();
  }

  // Browsers speak only after a person has touched the page once.
  $("voice-on").addEventListener("click", () => {
    voiceOn = true;
    $("voice-on").hidden = true;
    if ("speechSynthesis" in window) speechSynthesis.getVoices();
  });

  function connect() {
    const es = new EventSource(body.dataset.events);
    es.addEventListener("hello", () => {
      boards.clear();
      seen.clear();
      $("link").textContent = text.live;
      $("link").className = "tv-link ok";
    });
    es.addEventListener("board", (e) => {
      const b = JSON.parse(e.data);
      // A call is announced even if a newer board of its room came first.
      if (b.announce) announce(b.announce);
      if ((seen.get(b.session_id) || 0) > b.rev) return;
      seen.set(b.session_id, b.rev);
      boards.set(b.session_id, b);
      render();
    });
    es.onerror = () => {
      $("link").textContent = text.lost;
      $("link").className = "tv-link lost";
      // The browser retries by itself unless the server refused; then try again later.
      if (es.readyState === EventSource.CLOSED) setTimeout(connect, 5000);
    };
  }

  function tick() {
    const d = new Date();
    $("clock").textContent = d.toLocaleString("zh-CN", { hour12: false, month: "2-digit", day: "2-digit", weekday: "short", hour: "2-digit", minute: "2-digit" });
  }
  tick();
  setInterval(tick, 10000);
  connect();
})();
