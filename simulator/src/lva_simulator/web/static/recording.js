// A recording: the video, the inference results of its interval on a timeline,
// and the result of the moment drawn over the video as it plays.
"use strict";

(() => {
  const root = document.getElementById("recording");
  const video = document.getElementById("video");
  const overlay = document.getElementById("overlay");
  const timeline = document.getElementById("timeline");
  const playhead = document.getElementById("playhead");
  const current = document.getElementById("current-inferences");
  const HOLD_SECONDS = 1.0; // a result stays drawn this long, or until the next one
  let results = [];
  let shown = null;

  function resultAt(time) {
    // The last result at or before `time` (results are sorted by offset).
    let low = 0;
    let high = results.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (results[middle].offset <= time + 1e-3) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    if (found < 0 || time - results[found].offset > HOLD_SECONDS) return null;
    return results[found];
  }

  function markColour(result) {
    for (const i of result.inferences) {
      const value = i[i.type] || {};
      if (value.tag) return LvaDraw.tagColour(String(value.tag.value));
    }
    return [255, 255, 255];
  }

  function drawTimeline() {
    const duration = video.duration;
    if (!Number.isFinite(duration) || duration <= 0) return;
    for (const old of timeline.querySelectorAll(".mark")) old.remove();
    for (const result of results) {
      const mark = document.createElement("button");
      mark.type = "button";
      mark.className = "mark";
      mark.title = `${result.offset.toFixed(2)} s: ${result.inferences.map(LvaDraw.label).filter(Boolean).join(", ")}`;
      mark.style.left = `${Math.min(100, (100 * result.offset) / duration)}%`;
      const [r, g, b] = markColour(result);
      mark.style.background = `rgb(${r}, ${g}, ${b})`;
      mark.addEventListener("click", () => {
        video.currentTime = result.offset;
      });
      timeline.append(mark);
    }
    if (results.length || !document.getElementById("timeline-note").textContent.trim()) {
      document.getElementById("timeline-note").textContent =
        `${results.length} inference event(s) in this file's interval`;
    }
  }

  function render() {
    const time = video.currentTime;
    if (Number.isFinite(video.duration) && video.duration > 0) {
      playhead.style.left = `${Math.min(100, (100 * time) / video.duration)}%`;
    }
    const result = resultAt(time);
    if (result === shown) return;
    shown = result;
    const ctx = overlay.getContext("2d", { willReadFrequently: true });
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    current.replaceChildren();
    if (!result) {
      delete overlay.dataset.timestamp;
      return;
    }
    LvaDraw.draw(ctx, overlay.width, overlay.height, result.inferences, null, result.timestamp);
    overlay.dataset.timestamp = result.timestamp;
    for (const inference of result.inferences) {
      const item = document.createElement("li");
      item.textContent = `${result.node}: ${inference.type} ${LvaDraw.label(inference)}`;
      current.append(item);
    }
  }

  function loop() {
    render();
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(loop);
    else requestAnimationFrame(loop);
  }

  async function start() {
    await LvaDraw.load();
    const response = await fetch(`/recordings/${root.dataset.key}/inferences.json`);
    results = (await response.json()).sort((a, b) => a.offset - b.offset);
    const ready = () => {
      overlay.width = video.videoWidth;
      overlay.height = video.videoHeight;
      shown = undefined;
      drawTimeline();
      render();
    };
    if (video.readyState >= 1) ready();
    video.addEventListener("loadedmetadata", ready);
    video.addEventListener("seeked", render);
    video.addEventListener("timeupdate", render);
    loop();
  }

  start();
})();
