"""The web view in a real browser (Debian's headless Chromium) while a real graph runs.

The simulator's camera serves a clip of two coloured squares over RTSP; the
InferencingWithGrpcExtension sample runs on it as a user runs it (motion
detection, the extension through shared memory with a processor that finds
the squares, a signal gate recording into an asset). The pages must show:
frames as they arrive, with the boxes drawn where the inferences say and the
inferences where the clip has its squares; motion regions; node stats that
move, with the gate's state; an event log with the three kinds of events that
filters; a recording the sink made that plays, with its inference events
drawn over the video where the squares are; buttons that deactivate and
activate; recordings still listed, playable and annotated after a restart;
and nothing without the token.

LVA_WEB_SCREENSHOT=docs/web-view.png makes the live page test save a screenshot.
"""

from __future__ import annotations

import dataclasses
import json
import os
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from lva_extension.client.annotate import STYLE, box_pixels
from PIL import Image

from tests.support.browser import Browser, headless_chromium
from tests.support.sample_edge import EXTENSION
from tests.support.simulator import RunningSimulator
from tests.support.squares import FRAMES, known_boxes
from tests.support.watched_graph import (
    HEIGHT,
    INSTANCE,
    SENT,
    SOURCE_AREA,
    WIDTH,
    as_sent,
    start_watched,
    web_url,
)

PAGE = f"/instances/{INSTANCE}"

# One read of a node's newest drawn frame: its number, its listed inferences, and
# for each box the canvas pixels on its left outline, just inside it and just outside.
READ_FRAME = """((node) => {
  const figure = document.querySelector(`#frames figure[data-node=${node}]`);
  const canvas = figure && figure.querySelector('canvas');
  if (!canvas || !canvas.dataset.sequence) return null;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const px = (x, y) => [...ctx.getImageData(x, y, 1, 1).data.slice(0, 3)];
  const items = [...figure.querySelectorAll('li[data-type]')].map((li) => {
    const item = {type: li.dataset.type, origin: li.dataset.origin, tag: li.dataset.tag};
    if (li.dataset.l === undefined) return item;
    Object.assign(item, {l: +li.dataset.l, t: +li.dataset.t, w: +li.dataset.w, h: +li.dataset.h});
    const [x0, y0, x1, y1] = LvaDraw.boxPixels(item, canvas.width, canvas.height);
    const middle = (y0 + y1) >> 1;
    item.edge = px(x0, middle);
    item.outline = px(x0 + 1, middle);
    item.inside = px(Math.min(x1, x0 + 8), middle);
    item.outside = px(Math.max(0, x0 - 6), middle);
    return item;
  });
  return {sequence: +canvas.dataset.sequence, width: canvas.width, height: canvas.height, items};
})"""


class Edge:
    """The running simulator, which the last test restarts on the same state."""

    def __init__(self, folder: Path, extension: str) -> None:
        self.sim = start_watched(folder, extension)

    def restart(self) -> None:
        options = dataclasses.replace(self.sim.options, camera_media=None, modules={})
        self.sim.stop()
        self.sim = RunningSimulator(options)

    def close(self) -> None:
        self.sim.stop()


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    from tests.support.servers import running_server

    with running_server(auth_username=EXTENSION[0], auth_password=EXTENSION[1]) as extension:
        running = Edge(tmp_path_factory.mktemp("web"), extension.address)
        try:
            yield running
        finally:
            running.close()


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as chromium:
        yield chromium
    assert not chromium.errors, chromium.errors


def near(pixel, colour, tolerance=12) -> bool:
    return bool(np.abs(np.array(pixel, float) - colour).max() <= tolerance)


def overlap(inner: dict, outer: dict) -> float:
    """How much of box ``inner`` lies inside box ``outer`` (0 to 1)."""
    width = min(inner["l"] + inner["w"], outer["l"] + outer["w"]) - max(inner["l"], outer["l"])
    height = min(inner["t"] + inner["h"], outer["t"] + outer["h"]) - max(inner["t"], outer["t"])
    return max(0.0, width) * max(0.0, height) / (inner["w"] * inner["h"])


def matching_clip_frame(boxes: dict[str, list[float]]) -> int | None:
    """The frame of the clip whose squares are where these boxes (of the sent frame) say."""
    for index in range(FRAMES):
        known = {tag: as_sent(box) for tag, box in known_boxes(index, WIDTH, HEIGHT).items()}
        if all(np.allclose(boxes[tag], known[tag], atol=1.5 / HEIGHT) for tag in known):
            return index
    return None


def test_live_page_draws_boxes_where_the_inferences_say(edge, browser: Browser):
    browser.open(web_url(edge.sim, PAGE))
    read = f"{READ_FRAME}('grpcExtension')"
    first = browser.wait_for(read)
    browser.wait_for(f"(({read}) || {{}}).sequence > {first['sequence'] + 5}")  # frames arrive
    frame = browser.evaluate(read)
    assert (frame["width"], frame["height"]) == (SENT, SENT)  # as the extension got them

    entities = [i for i in frame["items"] if i["type"] == "entity"]
    assert sorted(i["tag"] for i in entities) == ["blue", "red"]
    # The model found the squares where the clip has them, in the padded frame...
    boxes = {i["tag"]: [i[k] for k in "ltwh"] for i in entities}
    assert matching_clip_frame(boxes) is not None, boxes
    for item in entities:
        # ...and the page drew each outline there (its pixels are annotate.py's), in the
        # tag's colour, over the square.
        corners = browser.evaluate(f"LvaDraw.boxPixels({json.dumps(item)}, {SENT}, {SENT})")
        assert tuple(corners) == box_pixels(item, SENT, SENT)
        colour = STYLE.tag_colour(item["tag"])
        assert near(item["outline"], colour), item
        assert not near(item["inside"], colour, 60) and not near(item["outside"], colour, 60)
    assert browser.evaluate("LvaDraw.tagColour('red')") == list(STYLE.tag_colour("red"))

    # Motion regions came with the frame from motion detection, placed in the padded frame.
    regions = [i for i in frame["items"] if i["type"] == "motion"]
    assert regions and all(i["origin"] == "upstream" for i in regions)
    top, bottom = SOURCE_AREA[1], SOURCE_AREA[1] + SOURCE_AREA[3]
    assert all(top - 1e-6 <= i["t"] and i["t"] + i["h"] <= bottom + 1e-6 for i in regions)
    for square in entities:  # each moving square lies in a region that moved
        assert max(overlap(square, region) for region in regions) > 0.8, (square, regions)
    # Motion detection's own frame (the camera's, not padded) with its regions outlined.
    motion = browser.wait_for(
        f"(() => {{ const f = {READ_FRAME}('motionDetection');"
        " return f && f.items.length ? f : null; })()"
    )
    assert (motion["width"], motion["height"]) == (WIDTH, HEIGHT)
    motion_colour = tuple(int(STYLE.motion_colour[i : i + 2], 16) for i in (1, 3, 5))
    assert any(near(i["edge"], motion_colour, 40) for i in motion["items"]), motion["items"]

    if os.environ.get("LVA_WEB_SCREENSHOT"):  # once the gate has recorded, and the stats move
        browser.wait_for("!!document.querySelector('#instance-recordings li[data-state=playable]')")
        browser.wait_for(
            "document.querySelector('#stats tr[data-node=signalGateProcessor]').dataset.state"
            " === 'open'"
        )
        browser.wait_for(
            "+document.querySelector('#stats tr[data-node=grpcExtension]').dataset.fps > 10"
        )
        browser.wait_for(
            f"(() => {{ const f = {READ_FRAME}('grpcExtension');"
            " return f && f.items.filter((i) => i.type === 'entity').length === 2; })()"
        )
        browser.evaluate("window.scrollTo(0, 0)")
        shot = Path(os.environ["LVA_WEB_SCREENSHOT"])
        browser.screenshot(shot)
        # A small file for the docs: a page of flat colours loses little in 64 of them.
        Image.open(shot).convert("RGB").quantize(64).save(shot, optimize=True)


def test_node_stats_move_and_show_the_gate(edge, browser: Browser):
    browser.open(web_url(edge.sim, PAGE))
    row = "document.querySelector('#stats tr[data-node=grpcExtension]')"
    before = int(browser.wait_for(f"{row} && {row}.dataset.framesOut"))
    browser.wait_for(f"+{row}.dataset.framesOut > {before + 10} && +{row}.dataset.fps > 0")
    assert int(browser.evaluate(f"+{row}.dataset.acks")) > before
    assert float(browser.evaluate(f"{row}.dataset.latencyP50Ms")) > 0
    assert browser.evaluate(f"{row}.dataset.state") == "streaming"
    nodes = browser.evaluate(
        "[...document.querySelectorAll('#stats tbody tr')].map(r => r.dataset.node)"
    )
    assert set(nodes) == {
        "rtspSource", "motionDetection", "grpcExtension", "signalGateProcessor", "assetSink",
        "hubSink",
    }  # fmt: skip
    # The squares always move: the gate is open (back-to-back activations of a second).
    gate = "document.querySelector('#stats tr[data-node=signalGateProcessor]')"
    browser.wait_for(f"{gate}.dataset.state === 'open'")
    assert browser.evaluate(f"{gate}.querySelector('td:last-child').textContent") == "open"
    assert int(browser.evaluate(f"+{gate}.dataset.framesOut")) > 0


def test_event_log_fills_with_all_three_kinds_and_filters(edge, browser: Browser):
    browser.open(web_url(edge.sim, PAGE))
    for kind, kind_type in (
        ("inference", "Inference"),
        ("operational", "RecordingStarted"),
        ("diagnostic", "MediaSessionEstablished"),  # the camera's session, each loop
    ):
        browser.wait_for(f"!!document.querySelector('#log tr.kind-{kind}[data-type={kind_type}]')")
    visible = """[...new Set([...document.querySelectorAll('#log tbody tr')]
        .filter((r) => r.offsetParent !== null).map((r) => r.dataset.kind))].sort()"""
    assert browser.evaluate(visible) == ["diagnostic", "inference", "operational"]
    browser.evaluate("document.querySelector('#log-filter input[value=inference]').click()")
    assert browser.evaluate(visible) == ["diagnostic", "operational"]
    browser.evaluate("document.querySelector('#log-filter input[value=diagnostic]').click()")
    assert browser.evaluate(visible) == ["operational"]
    browser.evaluate("document.querySelector('#log-filter input[value=inference]').click()")
    assert browser.evaluate(visible) == ["inference", "operational"]


def annotated_recording(browser: Browser) -> dict:
    """A playable recording of the asset sink with its inference events kept (a moment after
    its file is finished, the events of its last frames in too)."""
    return browser.wait_for(
        """(async () => {
          const items = document.querySelectorAll('#instance-recordings li[data-state=playable]');
          for (const li of items) {
            const results = await (await fetch(`/recordings/${li.dataset.key}/inferences.json`))
                .json();
            if (results.length >= 5) return {key: li.dataset.key, results};
          }
          return null;
        })()""",
        timeout=30,
    )


PLAYED_FRAME = """(() => {
  // The video's current picture and the overlay, at a point of the video.
  const video = document.getElementById('video');
  const overlay = document.getElementById('overlay');
  const copy = document.createElement('canvas');
  copy.width = video.videoWidth; copy.height = video.videoHeight;
  const ctx = copy.getContext('2d');
  ctx.drawImage(video, 0, 0);
  return (x, y) => ({video: [...ctx.getImageData(x, y, 1, 1).data.slice(0, 3)],
                     overlay: [...overlay.getContext('2d').getImageData(x, y, 1, 1).data]});
})()"""


def test_a_recording_the_sink_made_plays_with_its_inferences_drawn(edge, browser: Browser):
    browser.open(web_url(edge.sim, PAGE))
    found = annotated_recording(browser)
    browser.open(web_url(edge.sim, f"/recordings/{found['key']}"))
    video = "document.getElementById('video')"
    browser.wait_for(f"{video}.readyState >= 2")  # Chromium decodes the remuxed MP4
    assert browser.evaluate(f"[{video}.videoWidth, {video}.videoHeight]") == [WIDTH, HEIGHT]
    marks = browser.wait_for("document.querySelectorAll('#timeline .mark').length")
    assert marks == len(found["results"])  # the inference events of that interval
    browser.evaluate(f"{video}.playbackRate = 2; {video}.play()")
    browser.wait_for(f"{video}.currentTime > 0.3")  # it plays
    # Paused on an event: its boxes drawn over the video where the video shows the squares.
    result = found["results"][len(found["results"]) // 2]
    browser.evaluate(f"{video}.pause(); {video}.currentTime = {result['offset'] + 0.01}")
    overlay = "document.getElementById('overlay')"
    browser.wait_for(f"{overlay}.dataset.timestamp == {result['timestamp']}")
    browser.wait_for(f"!{video}.seeking && {video}.readyState >= 2")
    red = next(i["entity"] for i in result["inferences"] if i["type"] == "entity")
    # The event's box is of the padded frame the extension got; the video is the camera's.
    left, top, width, height = SOURCE_AREA
    box = red["box"]
    in_video = {
        "l": (box["l"] - left) / width,
        "t": (box["t"] - top) / height,
        "w": box["w"] / width,
        "h": box["h"] / height,
    }
    x0, y0, x1, y1 = browser.evaluate(
        f"LvaDraw.boxPixels({json.dumps(in_video)}, {WIDTH}, {HEIGHT})"
    )
    middle = (y0 + y1) // 2
    outline, centre = browser.evaluate(
        f"(() => {{ const read = {PLAYED_FRAME};"
        f" return [read({x0 + 1}, {middle}), read({(x0 + x1) // 2}, {middle})]; }})()"
    )
    assert near(outline["overlay"][:3], STYLE.tag_colour("red")) and outline["overlay"][3] == 255
    assert near(centre["video"], (230, 40, 40), 60), centre  # the red square, in the video


def test_pages_without_the_token_are_refused(edge):
    with headless_chromium() as fresh:  # no cookie from an earlier visit
        for url, status in (
            (web_url(edge.sim, PAGE, token=False), 401),
            (web_url(edge.sim, PAGE, token=False) + "?token=not-the-token", 403),
        ):
            fresh.open(url)
            navigation = "performance.getEntriesByType('navigation')[0].responseStatus"
            assert fresh.evaluate(navigation) == status
            # Chromium's own error page (the answer has no content): nothing of ours.
            assert "HTTP ERROR" in fresh.evaluate("document.body.innerText")
            assert fresh.evaluate("document.querySelectorAll('#instance, canvas').length") == 0


def test_overview_buttons_deactivate_and_activate(edge, browser: Browser):
    browser.open(web_url(edge.sim, "/"))
    row = f"document.querySelector('#instances tr[data-name={INSTANCE}]')"
    assert browser.evaluate(f"{row}.querySelector('.state').textContent") == "Active"
    browser.evaluate(f"{row}.querySelector('button[data-action=deactivate]').click()")
    # The page reloads: its buttons work once its script has run (the document is complete).
    loaded = "document.readyState === 'complete'"
    browser.wait_for(f"{loaded} && {row}.querySelector('.state').textContent === 'Inactive'")
    state = edge.sim.invoke("GraphInstanceGet", {"name": INSTANCE})[1]["properties"]["state"]
    assert state == "Inactive"
    browser.evaluate(f"{row}.querySelector('button[data-action=activate]').click()")
    browser.wait_for(f"{loaded} && {row}.querySelector('.state').textContent === 'Active'")


def test_recordings_survive_a_restart_with_their_inferences(edge, browser: Browser):
    assert edge.sim.invoke("GraphInstanceDeactivate", {"name": INSTANCE}) == (200, None)
    before = {
        file.path for r in edge.sim.simulator.recordings() for file in r.files if file.path.exists()
    }
    edge.restart()  # the instance stays inactive: nothing new is recorded
    after = edge.sim.simulator.recordings()
    assert {file.path for r in after for file in r.files} == before
    assert all(r.restored for r in after)
    browser.open(web_url(edge.sim, "/recordings"))
    rows = browser.evaluate(
        "[...document.querySelectorAll('#recordings tbody tr')].map((r) => r.dataset.state)"
    )
    assert rows and set(rows) == {"playable"}
    key = browser.evaluate("document.querySelector('#recordings tbody tr').dataset.key")
    url = web_url(edge.sim, f"/recordings/{key}/inferences.json")
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert json.load(answer), "the inference events were not kept"
    browser.open(web_url(edge.sim, f"/recordings/{key}"))
    browser.wait_for("document.getElementById('video').readyState >= 2")
    browser.wait_for("document.querySelectorAll('#timeline .mark').length > 0")
