// The live page of one graph instance: frames with their inferences, node stats, events.
"use strict";

(() => {
  const root = document.getElementById("instance");
  const name = root.dataset.name;
  const figures = new Map(); // node -> {figure, canvas, caption, list, latest}
  const logBody = document.querySelector("#log tbody");
  const MAX_LOG_ROWS = 500;
  let source = null;

  function figureFor(node, sent) {
    let entry = figures.get(node);
    if (entry) return entry;
    document.getElementById("no-frames").hidden = true;
    const figure = document.createElement("figure");
    figure.className = "node-frame";
    figure.dataset.node = node;
    const canvas = document.createElement("canvas");
    const caption = document.createElement("figcaption");
    const list = document.createElement("ul");
    list.className = "inferences";
    figure.append(caption, canvas, list);
    // What the model saw first: an extension's frames before motion detection's.
    figure.classList.toggle("sent", sent);
    const frames = document.getElementById("frames");
    if (sent) frames.querySelector("figure:not(.sent)")?.before(figure);
    if (!figure.isConnected) frames.append(figure);
    entry = { figure, canvas, caption, list, latest: 0 };
    figures.set(node, entry);
    return entry;
  }

  function describe(inference, origin) {
    const item = document.createElement("li");
    const kind = inference.type;
    const value = inference[kind] || {};
    item.dataset.type = kind;
    item.dataset.origin = origin;
    if (value.tag) {
      item.dataset.tag = value.tag.value;
      item.dataset.confidence = value.tag.confidence;
    }
    const box = value.box;
    if (box) {
      for (const key of ["l", "t", "w", "h"]) item.dataset[key] = box[key];
    }
    const text = LvaDraw.label(inference) || kind;
    const from = origin === "upstream" ? " (from upstream)" : "";
    const at = (v) => Number(v).toFixed(3);
    item.textContent = box
      ? `${kind}: ${text} at l=${at(box.l)} t=${at(box.t)} w=${at(box.w)} h=${at(box.h)}${from}`
      : `${kind}: ${text}${from}`;
    return item;
  }

  async function showFrame(frame) {
    const entry = figureFor(frame.node, frame.sent);
    const ticket = ++entry.latest;
    const bytes = Uint8Array.from(atob(frame.jpeg), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/jpeg" }));
    if (ticket !== entry.latest) return; // a newer frame came while this one decoded
    const { canvas } = entry;
    if (canvas.width !== frame.width || canvas.height !== frame.height) {
      canvas.width = frame.width;
      canvas.height = frame.height;
    }
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(bitmap, 0, 0, frame.width, frame.height);
    bitmap.close();
    // What came from upstream (motion regions before an extension) under the node's own.
    const all = [...frame.upstream, ...frame.inferences];
    LvaDraw.draw(ctx, frame.width, frame.height, all, frame.sequence, frame.timestamp);
    canvas.dataset.sequence = frame.sequence;
    canvas.dataset.timestamp = frame.timestamp;
    entry.caption.textContent = `${frame.node}: #${frame.sequence}, ${LvaDraw.frameLabel(null, frame.timestamp)}`;
    const items = frame.inferences.map((i) => describe(i, "own"));
    items.push(...frame.upstream.map((i) => describe(i, "upstream")));
    entry.list.replaceChildren(...items);
  }

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    return td;
  }

  function showStats(stats) {
    const state = document.getElementById("state");
    state.textContent = stats.running ? "Active" : "Inactive";
    state.className = `state state-${stats.running ? "active" : "inactive"}`;
    const rows = stats.nodes.map((n) => {
      const row = document.createElement("tr");
      row.dataset.node = n.node;
      const ms = (v) => (v === null ? "" : v.toFixed(1));
      row.title = n.last_error ? `${n.type}; last error: ${n.last_error}` : n.type;
      const state = cell(n.state);
      state.className = `node-state node-state-${n.state}`;
      row.append(
        cell(n.node), cell(n.frames_in), cell(n.frames_out),
        cell(n.fps.toFixed(1)), cell(n.dropped), cell(n.acks), cell(n.errors),
        cell(ms(n.latency_p50_ms)), cell(ms(n.latency_p99_ms)), state,
      );
      for (const [key, value] of Object.entries(n)) row.dataset[key.replace(/_(.)/g, (_, c) => c.toUpperCase())] = value ?? "";
      return row;
    });
    document.querySelector("#stats tbody").replaceChildren(...rows);
    showRecordings(stats.recordings);
    const view = document.getElementById("view-stats");
    view.textContent = `this page: ${stats.view.shown} frames shown, ${stats.view.skipped} skipped`;
    view.dataset.shown = stats.view.shown;
    view.dataset.skipped = stats.view.skipped;
  }

  function showRecordings(recordings) {
    const list = document.getElementById("instance-recordings");
    document.getElementById("no-recordings").hidden = recordings.length > 0;
    list.replaceChildren(...recordings.map((r) => {
      const item = document.createElement("li");
      item.dataset.key = r.key;
      item.dataset.state = r.state;
      const link = document.createElement("a");
      link.href = `/recordings/${r.key}`;
      link.textContent = r.name;
      item.append(link, ` (${r.sink}, ${r.state})`);
      return item;
    }));
  }

  function eventRow(event) {
    const row = document.createElement("tr");
    row.className = `kind-${event.kind}`;
    row.dataset.kind = event.kind;
    row.dataset.type = event.type;
    const body = document.createElement("td");
    const code = document.createElement("code");
    code.textContent = JSON.stringify(event.body);
    body.append(code);
    row.title = event.time;
    row.append(cell(event.number), cell(event.kind), cell(event.type), cell(event.subject.replace(/^\/graphInstances\/[^/]+/, "")), body);
    return row;
  }

  function showEvents(events) {
    // Newest first, in one change of the page; only the newest MAX_LOG_ROWS stay.
    const rows = events.slice(-MAX_LOG_ROWS).reverse().map(eventRow);
    logBody.prepend(...rows);
    while (logBody.rows.length > MAX_LOG_ROWS) logBody.deleteRow(-1);
    countEvents();
  }

  function countEvents() {
    const hidden = new Set(
      [...document.querySelectorAll("#log-filter input[name=kind]")].filter((b) => !b.checked).map((b) => b.value),
    );
    const visible = [...logBody.rows].filter((row) => !hidden.has(row.dataset.kind)).length;
    document.getElementById("log-count").textContent = `${visible} shown of ${logBody.rows.length}`;
  }

  function applyFilter() {
    const table = document.getElementById("log");
    for (const box of document.querySelectorAll("#log-filter input[name=kind]")) {
      table.classList.toggle(`hide-${box.value}`, !box.checked);
    }
    countEvents();
  }

  function connect() {
    if (source) source.close();
    logBody.replaceChildren(); // the new stream starts with the kept events again
    const cap = Number(document.getElementById("fps-cap").value) || 0;
    source = new EventSource(`/instances/${encodeURIComponent(name)}/live?fps=${cap}`);
    source.addEventListener("frame", (e) => showFrame(JSON.parse(e.data)));
    source.addEventListener("stats", (e) => showStats(JSON.parse(e.data)));
    source.addEventListener("log", (e) => showEvents(JSON.parse(e.data)));
    source.addEventListener("error", () => {
      document.getElementById("view-stats").textContent = "connection lost; retrying…";
    });
  }

  document.getElementById("view-controls").addEventListener("submit", (event) => {
    event.preventDefault();
    connect();
  });
  document.getElementById("log-filter").addEventListener("change", applyFilter);
  LvaDraw.load().then(connect);
})();
