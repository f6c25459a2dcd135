// The workstation's pickers: as the doctor types a code, pinyin initials or
// a name, the catalogue's matches appear; a click puts the code in the box.
(() => {
  for (const form of document.querySelectorAll("[data-pick]")) {
    const input = form.querySelector("[data-search]");
    const kind = form.querySelector("[data-kind]");
    const list = form.querySelector("[data-suggest]");
    const unit = form.querySelector("[data-unit]");
    let timer = null;
    let asked = 0;
    const ask = () => {
      const n = ++asked;
      const q = input.value.trim();
      if (!q) { list.innerHTML = ""; return; }
      fetch(`/visits/catalog?kind=${encodeURIComponent(kind.value)}&q=${encodeURIComponent(q)}`, { credentials: "same-origin" })
        .then((r) => (r.ok ? r.text() : ""))
        .then((html) => { if (n === asked) list.innerHTML = html; })
        .catch(() => {});
    };
    input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(ask, 150); });
    kind.addEventListener("change", ask);
    list.addEventListener("click", (e) => {
      const b = e.target.closest("[data-code]");
      if (!b) return;
      input.value = b.dataset.code;
      if (unit) unit.textContent = b.dataset.unit ? `（${b.dataset.unit}）` : "";
      list.innerHTML = `<p class="chosen" data-testid="chosen">已选：${b.dataset.name.replace(/[<>&]/g, "")}</p>`;
      input.focus();
    });
  }
})();

// After a refusal the page comes back whole: bring the refused form into
// view and put the cursor in its first marked box.
(() => {
  const first = document.querySelector("[data-testid=vs-warnings], .card .field-error");
  if (!first) return;
  first.closest(".card").scrollIntoView({ block: "start" });
  const box = first.closest("form")?.querySelector("[aria-invalid=true], [data-testid=vs-confirm]");
  if (box) box.focus({ preventScroll: true });
})();
