// Queue settings: plays the announcement template with the browser's voice,
// so the administrator hears what the hall will hear.
(function () {
  "use strict";
  const text = JSON.parse(document.getElementById("qs-text").textContent);
  const status = document.getElementById("voice-status");
  document.getElementById("voice-test").addEventListener("click", function () {
    const f = document.getElementById("voice-form");
    const sample = document.getElementById("sample").value;
    const repeat = Math.max(1, Math.min(5, parseInt(f.repeat.value, 10) || 1));
    if (!("speechSynthesis" in window)) { status.textContent = text.no_speech; return; }
    speechSynthesis.cancel();
    for (let i = 0; i < repeat; i++) {
      const u = new SpeechSynthesisUtterance(sample);
      u.lang = "zh-CN";
      u.rate = parseFloat(f.rate.value) || 1;
      const zh = speechSynthesis.getVoices().find((v) => /^zh/i.test(v.lang));
      if (zh) u.voice = zh;
      speechSynthesis.speak(u);
    }
    const voices = speechSynthesis.getVoices().filter((v) => /^zh/i.test(v.lang)).length;
    status.textContent = text.playing.replace("{n}", repeat) + (voices ? "" : " " + text.no_zh_voice);
  });
})();
