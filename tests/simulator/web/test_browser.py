"""The web view in a real browser (Debian's headless Chromium) while a graph runs.

The graph plays a clip of two coloured squares in real time through a real
extension whose processor finds them. The page must show frames as they
arrive with boxes drawn where the inferences say (read back from the DOM and
the canvas pixels), inferences where the squares are, moving node stats, a
filling and filterable event log, a recording that plays with its inferences
drawn over it, buttons that deactivate and activate the instance; and the
same pages without the token must be refused.

LVA_WEB_SCREENSHOT=docs/web-view.png makes the live page test save a screenshot.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from lva_extension.client.annotate import STYLE
from lva_extension.client.clips import write_clip
from lva_simulator.observer import Recording
from PIL import Image

from tests.support.browser import Browser, headless_chromium
from tests.support.squares import FRAMES, known_boxes, square_frames
from tests.support.watched_graph import (
    HEIGHT,
    INSTANCE,
    TICKS_PER_FRAME,
    WIDTH,
    watched_graph,
    web_url,
)

PAGE = f"/instances/{INSTANCE}"

# One read of the newest drawn frame: its number, its listed boxes, and the
# canvas pixels in the middle of each box's left outline.
READ_FRAME = """(() => {
  const canvas = document.querySelector('#frames figure[data-node=grpcExtension] canvas');
  if (!canvas || !canvas.dataset.sequence) return null;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const boxes = [...document.querySelectorAll(
      '#frames figure[data-node=grpcExtension] li[data-type=entity]')].map((li) => {
    const box = {tag: li.dataset.tag, l: +li.dataset.l, t: +li.dataset.t, w: +li.dataset.w,
                 h: +li.dataset.h};
    const [x0, y0, x1, y1] = LvaDraw.boxPixels(box, canvas.width, canvas.height);
    const px = (x, y) => [...ctx.getImageData(x, y, 1, 1).data.slice(0, 3)];
    const middle = (y0 + y1) >> 1;
    box.outline = px(x0 + 1, middle);
    box.inside = px(x0 + 8, middle);
    box.outside = px(Math.max(0, x0 - 6), middle);
    return box;
  });
  return {sequence: +canvas.dataset.sequence, timestamp: +canvas.dataset.timestamp,
          width: canvas.width, height: canvas.height, boxes};
})()"""


@pytest.fixture(scope="module")
def extension():
    from tests.support.servers import running_server

    with running_server() as server:
        yield server


@pytest.fixture(scope="module")
def graph(extension, tmp_path_factory):
    with watched_graph(tmp_path_factory.mktemp("web"), extension.address) as sim:
        yield sim


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as chromium:
        yield chromium
    assert not chromium.errors, chromium.errors


def near(pixel, colour, tolerance=12) -> bool:
    return bool(np.abs(np.array(pixel, float) - colour).max() <= tolerance)


def test_live_page_draws_boxes_where_the_inferences_say(graph, browser: Browser):
    browser.open(web_url(graph, PAGE))
    first = browser.wait_for(READ_FRAME)
    later = browser.wait_for(f"(({READ_FRAME}) || {{}}).sequence > {first['sequence'] + 5}")
    assert later  # frames keep arriving
    frame = browser.evaluate(READ_FRAME)
    assert (frame["width"], frame["height"]) == (WIDTH, HEIGHT)  # as the extension got them

    index = frame["timestamp"] // TICKS_PER_FRAME % FRAMES
    known = known_boxes(index, WIDTH, HEIGHT)
    assert sorted(b["tag"] for b in frame["boxes"]) == ["blue", "red"]
    for box in frame["boxes"]:
        # The model found the square where the clip has it...
        found = [box[k] for k in "ltwh"]
        assert np.allclose(found, known[box["tag"]], atol=1.5 / HEIGHT), (box, known)
        # ...and the page drew its outline there, in the tag's colour, over the square.
        assert near(box["outline"], STYLE.tag_colour(box["tag"])), box
        assert not near(box["inside"], STYLE.tag_colour(box["tag"]), 60), box
        assert not near(box["outside"], STYLE.tag_colour(box["tag"]), 60), box
    # The page colours tags as annotate.py does.
    assert browser.evaluate("LvaDraw.tagColour('red')") == list(STYLE.tag_colour("red"))

    if os.environ.get("LVA_WEB_SCREENSHOT"):
        row = "document.querySelector('#stats tr[data-node=grpcExtension]')"
        browser.wait_for(f"+{row}.dataset.fps > 0")
        browser.wait_for("+document.getElementById('view-stats').dataset.shown > 10")
        shot = Path(os.environ["LVA_WEB_SCREENSHOT"])
        browser.screenshot(shot)
        # A small file for the docs: a page of flat colours loses nothing in 64 of them.
        Image.open(shot).convert("RGB").quantize(64).save(shot, optimize=True)


def test_node_stats_move(graph, browser: Browser):
    browser.open(web_url(graph, PAGE))
    row = "document.querySelector('#stats tr[data-node=grpcExtension]')"
    before = int(browser.wait_for(f"{row} && {row}.dataset.framesOut"))
    browser.wait_for(f"+{row}.dataset.framesOut > {before + 10} && +{row}.dataset.fps > 0")
    assert browser.evaluate(f"+{row}.dataset.acks") > before
    assert float(browser.evaluate(f"{row}.dataset.latencyP50Ms")) > 0
    source = "document.querySelector('#stats tr[data-node=rtspSource]')"
    assert int(browser.evaluate(f"{source}.dataset.framesOut")) > before


def test_event_log_fills_and_filters_by_kind(graph, browser: Browser):
    browser.open(web_url(graph, PAGE))
    browser.wait_for("document.querySelectorAll('#log tr.kind-inference').length >= 5")
    # An operational event, as the recording sinks publish them.
    message = {
        "body": {"outputType": "filePath", "outputLocation": "/tmp/x.mp4"},
        "applicationProperties": {
            "subject": f"/graphInstances/{INSTANCE}/sinks/fileSink",
            "eventType": "Microsoft.Media.Graph.Operational.RecordingStarted",
            "eventTime": "2026-01-01T00:00:00.000Z",
        },
        "outputName": "operational",
    }
    observatory = graph.simulator.observatory

    async def publish():
        observatory.event_published(INSTANCE, message)

    graph.call(publish())
    browser.wait_for("!!document.querySelector('#log tr[data-type=RecordingStarted]')")

    browser.evaluate("document.querySelector('#log-filter input[value=inference]').click()")
    visible = """[...document.querySelectorAll('#log tbody tr')]
        .filter((r) => r.offsetParent !== null).map((r) => r.dataset.kind)"""
    assert browser.evaluate(visible) == ["operational"]
    browser.evaluate("document.querySelector('#log-filter input[value=inference]').click()")
    assert "inference" in browser.evaluate(visible)


def test_recording_plays_with_its_inferences_drawn(graph, browser: Browser, tmp_path):
    observatory = graph.simulator.observatory
    results = list(observatory.instances[INSTANCE].results)
    start = results[0][0]
    path = tmp_path / "recording.mp4"
    write_clip(path, square_frames(WIDTH, HEIGHT, FRAMES), fps=15)

    async def record():
        observatory.recording_written(
            Recording(INSTANCE, "fileSink", path, start, start + FRAMES * TICKS_PER_FRAME)
        )

    graph.call(record())
    browser.open(web_url(graph, "/recordings"))
    link = browser.wait_for("document.querySelector('#recordings a').getAttribute('href')")
    browser.open(web_url(graph, link))
    browser.wait_for("document.getElementById('video').readyState >= 2")
    marks = browser.wait_for("document.querySelectorAll('#timeline .mark').length")
    assert marks >= 5  # the inference results of that interval
    browser.evaluate("document.getElementById('video').play()")
    browser.wait_for("document.getElementById('video').currentTime > 0.5")
    # Paused on a result: its boxes are drawn over the video where it says.
    result = json.loads(
        browser.evaluate(
            f"fetch('{link}/inferences.json').then((r) => r.text())",
        )
    )[3]
    browser.evaluate(
        f"(() => {{ const v = document.getElementById('video'); v.pause();"
        f" v.currentTime = {result['offset'] + 0.01}; }})()"
    )
    overlay = "document.getElementById('overlay')"
    browser.wait_for(f"{overlay}.dataset.timestamp == {result['timestamp']}")
    red = next(i["entity"] for i in result["inferences"] if i["type"] == "entity")
    pixel = browser.evaluate(
        f"""(() => {{
          const overlay = document.getElementById('overlay');
          const [x0, y0, x1, y1] = LvaDraw.boxPixels({json.dumps(red["box"])},
              overlay.width, overlay.height);
          return [...overlay.getContext('2d').getImageData(x0 + 1, (y0 + y1) >> 1, 1, 1).data];
        }})()"""
    )
    assert near(pixel[:3], STYLE.tag_colour(red["tag"]["value"])) and pixel[3] == 255


def test_pages_without_the_token_are_refused(graph):
    with headless_chromium() as fresh:  # no cookie from an earlier visit
        for url, status in (
            (web_url(graph, PAGE, token=False), 401),
            (web_url(graph, PAGE, token=False) + "?token=not-the-token", 403),
        ):
            fresh.open(url)
            navigation = "performance.getEntriesByType('navigation')[0].responseStatus"
            assert fresh.evaluate(navigation) == status
            # Chromium's own error page (the answer has no content): nothing of ours.
            assert "HTTP ERROR" in fresh.evaluate("document.body.innerText")
            assert fresh.evaluate("document.querySelectorAll('#instance, canvas').length") == 0


def test_overview_buttons_deactivate_and_activate(graph, browser: Browser):
    browser.open(web_url(graph, "/"))
    row = f"document.querySelector('#instances tr[data-name={INSTANCE}]')"
    assert browser.evaluate(f"{row}.querySelector('.state').textContent") == "Active"
    browser.evaluate(f"{row}.querySelector('button[data-action=deactivate]').click()")
    browser.wait_for(f"{row} && {row}.querySelector('.state').textContent === 'Inactive'")
    assert graph.invoke("GraphInstanceGet", {"name": INSTANCE})[1]["properties"]["state"] == (
        "Inactive"
    )
    browser.evaluate(f"{row}.querySelector('button[data-action=activate]').click()")
    browser.wait_for(f"{row} && {row}.querySelector('.state').textContent === 'Active'")
