// Draws a frame's inferences on a canvas, in the style of lva_extension/client/annotate.py
// (served as /style.json): the same colours per tag, sizes, labels and layout.
"use strict";

const LvaDraw = (() => {
  let style = null;

  async function load() {
    if (!style) {
      const response = await fetch("/style.json");
      style = await response.json();
    }
    return style;
  }

  function clampPx(value, low, high) {
    return Math.max(low, Math.min(high, Math.round(value)));
  }

  // Python's round() rounds halves to even; sizes must match annotate.py's.
  function roundHalfEven(value) {
    const floor = Math.floor(value);
    const diff = value - floor;
    if (Math.abs(diff - 0.5) > 1e-9) return Math.round(value);
    return floor % 2 === 0 ? floor : floor + 1;
  }

  function fnv1a32(text) {
    let hash = 0x811c9dc5;
    for (const byte of new TextEncoder().encode(text)) {
      hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
    }
    return hash >>> 0;
  }

  function hexRgb(colour) {
    const value = parseInt(colour.slice(1), 16);
    return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
  }

  function css(rgb, alpha = 1) {
    return `rgba(${rgb[0]}, ${rgb[1]}, ${rgb[2]}, ${alpha})`;
  }

  function tagColour(tag) {
    return hexRgb(style.palette[fnv1a32(tag) % style.palette.length]);
  }

  function textOn(rgb) {
    const luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
    return luma > style.dark_text_above_luma ? [0, 0, 0] : [255, 255, 255];
  }

  function label(inference) {
    const kind = inference.type || "";
    const value = inference[kind] || {};
    if (kind === "entity" || kind === "classification") {
      const tag = value.tag || {};
      let name = String(tag.value ?? "");
      if (value.id) name += `#${value.id}`;
      return `${name} ${Number(tag.confidence || 0).toFixed(2)}`;
    }
    if (kind === "text") return `"${value.value ?? ""}"`;
    if (kind === "event") return `event: ${value.name ?? ""}`;
    return "";
  }

  function frameLabel(sequence, timestamp) {
    const parts = [];
    if (sequence !== null && sequence !== undefined) parts.push(`#${sequence}`);
    if (timestamp !== null && timestamp !== undefined) {
      parts.push(`${(timestamp / style.timescale).toFixed(3)} s`);
    }
    return parts.join("  ");
  }

  // Inclusive pixel corners of a normalized box, as annotate.box_pixels.
  function boxPixels(box, width, height) {
    const left = Number(box.l || 0);
    const top = Number(box.t || 0);
    const x0 = Math.min(width - 1, Math.max(0, roundHalfEven(left * width)));
    const y0 = Math.min(height - 1, Math.max(0, roundHalfEven(top * height)));
    const x1 = Math.min(width, Math.max(x0 + 1, roundHalfEven((left + Number(box.w || 0)) * width))) - 1;
    const y1 = Math.min(height, Math.max(y0 + 1, roundHalfEven((top + Number(box.h || 0)) * height))) - 1;
    return [x0, y0, x1, y1];
  }

  function pad(fontPx) {
    return Math.max(1, Math.floor(fontPx / 5));
  }

  function banner(ctx, lines, fontPx, top, width, height) {
    if (!lines.length) return;
    const p = pad(fontPx);
    const step = fontPx + p;
    const bandHeight = step * lines.length + p;
    const y = top ? 0 : height - bandHeight;
    const bandWidth = Math.max(...lines.map(([text]) => Math.ceil(ctx.measureText(text).width))) + 2 * p;
    ctx.fillStyle = css(hexRgb(style.banner_colour), style.banner_alpha);
    ctx.fillRect(0, y, bandWidth, bandHeight);
    lines.forEach(([text, colour], index) => {
      ctx.fillStyle = css(colour);
      ctx.fillText(text, p, y + p + index * step);
    });
  }

  function motion(ctx, box, width, height, line) {
    const [x0, y0, x1, y1] = boxPixels(box, width, height);
    const colour = hexRgb(style.motion_colour);
    ctx.fillStyle = css(colour, style.motion_fill_alpha);
    ctx.fillRect(x0, y0, x1 - x0 + 1, y1 - y0 + 1);
    const w = Math.max(1, Math.floor(line / 2));
    ctx.strokeStyle = css(colour);
    ctx.lineWidth = w;
    ctx.strokeRect(x0 + w / 2, y0 + w / 2, x1 - x0 + 1 - w, y1 - y0 + 1 - w);
  }

  function entity(ctx, inference, width, height, line, fontPx) {
    const value = inference.entity;
    const [x0, y0, x1, y1] = boxPixels(value.box, width, height);
    const colour = tagColour(String((value.tag || {}).value ?? ""));
    // The outline lies inside the box: its outer edge is the box's edge.
    ctx.strokeStyle = css(colour);
    ctx.lineWidth = line;
    ctx.strokeRect(x0 + line / 2, y0 + line / 2, x1 - x0 + 1 - line, y1 - y0 + 1 - line);
    const text = label(inference);
    const p = pad(fontPx);
    const labelHeight = fontPx + 2 * p;
    const top = y0 >= labelHeight ? y0 - labelHeight : y0;
    ctx.fillStyle = css(colour);
    ctx.fillRect(x0, top, Math.ceil(ctx.measureText(text).width) + 2 * p, labelHeight);
    ctx.fillStyle = css(textOn(colour));
    ctx.fillText(text, x0 + p, top + p);
  }

  function listColour(inference) {
    if (inference.type === "classification") {
      return tagColour(String(((inference.classification || {}).tag || {}).value ?? ""));
    }
    return hexRgb(style.banner_text_colour);
  }

  // Draw on a canvas whose size is the frame's (width x height).
  function draw(ctx, width, height, inferences, sequence, timestamp) {
    const fontPx = clampPx(height * style.font_fraction, style.font_min_px, style.font_max_px);
    const line = clampPx(height * style.line_fraction, style.line_min_px, style.line_max_px);
    ctx.save();
    ctx.font = `${fontPx}px sans-serif`;
    ctx.textBaseline = "top";
    const listed = inferences
      .filter((i) => i.type !== "entity" && label(i))
      .map((i) => [label(i), listColour(i)]);
    banner(ctx, listed, fontPx, true, width, height);
    const stamp = frameLabel(sequence, timestamp);
    if (stamp) banner(ctx, [[stamp, hexRgb(style.banner_text_colour)]], fontPx, false, width, height);
    for (const i of inferences) {
      if (i.type === "motion" && i.motion && i.motion.box) motion(ctx, i.motion.box, width, height, line);
    }
    for (const i of inferences) {
      if (i.type === "entity" && i.entity && i.entity.box) entity(ctx, i, width, height, line, fontPx);
    }
    ctx.restore();
  }

  return { load, draw, tagColour, label, boxPixels, frameLabel };
})();
