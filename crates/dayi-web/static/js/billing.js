// The cashier's bill: the total follows the ticked items, and the expected
// amount sent with the payment is what the cashier sees.
(() => {
  const form = document.querySelector("[data-bill]");
  if (!form) return;
  const shown = form.querySelector("[data-selected]");
  const expected = form.querySelector("[data-expected]");
  const sum = () => {
    let fen = 0;
    for (const b of form.querySelectorAll("input[name=charge_ids]:checked")) fen += Number(b.dataset.fen);
    expected.value = String(fen);
    shown.textContent = `¥${(fen / 100).toFixed(2)}`;
  };
  form.addEventListener("change", sum);
  // One press pays once: the button stays down while the request is on its way.
  form.addEventListener("submit", () => form.querySelector("[type=submit]").setAttribute("disabled", ""));
})();
