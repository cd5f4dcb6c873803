"""lva_extension.client.annotate: what is drawn where, in which colour."""

from __future__ import annotations

import json

import numpy as np
import pytest
from lva_extension import inferences
from lva_extension.client.annotate import STYLE, box_pixels, draw, fnv1a_32, frame_label, label

GREY = 60


def frame(width: int = 320, height: int = 240) -> np.ndarray:
    return np.full((height, width, 3), GREY, dtype=np.uint8)


def test_entity_outline_lies_inside_its_box_in_the_tag_colour():
    box = (0.25, 0.5, 0.5, 0.25)
    picture = draw(frame(), [inferences.entity("car", box, 0.87)])
    x0, y0, x1, y1 = box_pixels(dict(zip("ltwh", box, strict=True)), 320, 240)
    colour = STYLE.tag_colour("car")
    line = STYLE.line_px(240)
    middle = (y0 + y1) // 2
    assert tuple(picture[middle, x0]) == colour and tuple(picture[middle, x0 + line - 1]) == colour
    assert tuple(picture[middle, x0 + line]) == (GREY,) * 3  # the inside stays the picture
    assert tuple(picture[middle, x0 - 1]) == (GREY,) * 3
    assert tuple(picture[y1, (x0 + x1) // 2]) == colour
    # The label sits on the box's top edge, in the box's colour.
    assert tuple(picture[y0 - 2, x0 + 1]) == colour


def test_motion_regions_are_tinted_and_listed_inferences_get_a_band():
    picture = draw(
        frame(),
        [inferences.motion((0.5, 0.5, 0.4, 0.4)), inferences.classification("dark", 1.0)],
        sequence=12,
        timestamp=180_000,
    )
    inside = picture[200, 200].astype(int)
    assert inside[2] > GREY + 20 and inside[0] < GREY  # cyan tint over grey
    band = round(GREY * (1 - STYLE.banner_alpha))  # black at banner_alpha over grey
    assert (picture[:2, :40] == band).all()  # the band behind "dark 1.00", above the text
    assert (picture[-2:, :40] == band).all()  # and behind "#12  2.000 s", below it
    assert frame_label(12, 180_000) == "#12  2.000 s"


def test_labels_and_json_inferences_draw_alike():
    entity = inferences.entity("person", (0.1, 0.1, 0.3, 0.3), 0.5, entity_id="7")
    as_json = json.loads(json.dumps({"type": "entity", "entity": {
        "tag": {"value": "person", "confidence": 0.5}, "id": "7",
        "box": {"l": 0.1, "t": 0.1, "w": 0.3, "h": 0.3}}}))  # fmt: skip
    assert label(as_json) == "person#7 0.50"
    assert np.array_equal(draw(frame(), [entity]), draw(frame(), [as_json]))


def test_style_is_exported_whole_and_tags_keep_their_colour():
    exported = STYLE.as_json()
    assert json.loads(json.dumps(exported)) == exported
    assert exported["palette"][fnv1a_32(b"car") % len(exported["palette"])] == "#0a84ff"
    assert fnv1a_32(b"") == 0x811C9DC5 and fnv1a_32(b"a") == 0xE40C292C  # FNV-1a 32 vectors


def test_a_frame_that_is_not_rgb_is_refused():
    with pytest.raises(ValueError, match=r"expected an RGB frame .* got \(4, 4\)"):
        draw(np.zeros((4, 4), dtype=np.uint8), [])
