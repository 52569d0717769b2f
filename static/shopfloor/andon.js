// The andon board: a short alarm when more calls are open than at the last look (after htmx's poll).
(() => {
  let known = null;
  let audio = null;

  function alarm() {
    try {
      audio ??= new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume();
      let at = audio.currentTime;
      for (const frequency of [880, 660, 880]) {
        const oscillator = audio.createOscillator();
        const gain = audio.createGain();
        oscillator.frequency.value = frequency;
        gain.gain.setValueAtTime(0.3, at);
        gain.gain.exponentialRampToValueAtTime(0.001, at + 0.25);
        oscillator.connect(gain).connect(audio.destination);
        oscillator.start(at);
        oscillator.stop(at + 0.25);
        at += 0.3;
      }
    } catch (error) {
      // No sound on this screen (no audio device, or sound not allowed yet): the colours still say it.
    }
  }

  function look() {
    const calls = document.getElementById("andon-calls");
    if (!calls) return;
    const count = Number(calls.dataset.openCount || 0);
    if (known !== null && count > known) {
      alarm();
      document.body.dataset.andonNew = String(Date.now());
    }
    known = count;
  }

  document.addEventListener("DOMContentLoaded", look);
  document.addEventListener("htmx:afterSettle", look);
})();
