// The patient's place in the queue, live: each checked-in booking of today
// follows its own event stream and redraws when its queue changes.
(function () {
  "use strict";
  const el = document.getElementById("pq-text");
  if (!el) return;
  const text = JSON.parse(el.textContent);
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

  function show(box, p) {
    const room = esc(p.room);
    let main;
    if (p.status === "called") main = `<p class="ahead-line">${text.called.replace("{room}", room)}</p>`;
    else if (p.status === "waiting") {
      main = `<p class="ahead-line" data-testid="queue-ahead" data-ahead="${p.ahead}">${text.ahead.replace("{n}", esc(p.ahead))}</p>`;
      if (p.at_door) main += `<p><strong>${text.door.replace("{room}", room)}</strong></p>`;
    } else main = `<p>${esc(text[p.status] || p.status_name)}</p>`;
    const now = p.calling.length ? `<p class="muted">${esc(text.calling.replace("{seqs}", p.calling.join("、")))} · ${room} · ${esc(p.doctor)}</p>` : "";
    box.innerHTML = main + now;
  }

  document.querySelectorAll("[data-queue]").forEach((box) => {
    const es = new EventSource(`/portal/api/bookings/${box.dataset.queue}/queue/events`);
    es.addEventListener("position", (e) => show(box, JSON.parse(e.data)));
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) box.innerHTML = `<p class="muted">${esc(text.lost)}</p>`;
    };
  });
})();
