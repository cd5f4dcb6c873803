"""A page that stops reading never slows the graph: it skips view frames instead."""

from __future__ import annotations

import socket
import time

from tests.support.sample_edge import EXTENSION
from tests.support.servers import running_server
from tests.support.waiting import wait_for
from tests.support.watched_graph import INSTANCE, watched_graph

FRAMES = 150


def stuck_viewer(port: int, token: str) -> socket.socket:
    """Open the live stream and never read it (a tiny receive window fills at once)."""
    viewer = socket.socket()
    viewer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    viewer.connect(("127.0.0.1", port))
    viewer.sendall(
        f"GET /instances/{INSTANCE}/live?token={token} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n\r\n".encode()
    )
    return viewer


def test_a_stuck_page_skips_frames_and_the_graph_runs_to_the_end(tmp_path):
    with (
        running_server(auth_username=EXTENSION[0], auth_password=EXTENSION[1]) as extension,
        watched_graph(
            tmp_path,
            extension.address,
            camera=False,
            fast=True,  # the file as fast as the graph takes it: every frame counts
            once=True,
            frames=FRAMES,
            activate=False,
            texture=True,
            size=(640, 480),  # big grainy JPEGs: the socket fills within the clip
        ) as sim,
    ):
        web = sim.simulator.web
        assert web is not None
        viewer = stuck_viewer(web.port, web.options.token)
        try:
            view = web.observatory.instance(INSTANCE)
            wait_for(lambda: view.viewers, timeout=10, what="the page's stream to start")

            assert sim.invoke("GraphInstanceActivate", {"name": INSTANCE}) == (200, None)
            sim.wait_until_finished(INSTANCE, timeout=120)
            stats = {s.node: s for s in sim.simulator.module.runs[INSTANCE].stats()}
            motion, extension_node = stats["motionDetection"], stats["grpcExtension"]
            # Every frame went through the graph: motion saw all, the extension answered
            # every frame that moved (all but the first, which starts the background).
            assert motion.frames_in == FRAMES
            assert extension_node.acks == extension_node.frames_in == FRAMES - 1
            assert extension_node.dropped == 0
            (page,) = view.viewers
            # ...while the page's stream stalled on the full socket: it holds just the
            # newest frame of each node, and skipped the frames that came while it waited.
            shown = page.shown
            time.sleep(0.5)  # the point of the test: nothing more is shown while it stalls
            assert page.shown == shown and len(page.pending) == 2
            assert page.skipped > 0
            offered = motion.frames_in + extension_node.acks
            assert page.shown + page.skipped + len(page.pending) == offered

            viewer.close()  # the page goes away: its stream ends, nothing is kept for it
            wait_for(lambda: not view.viewers, timeout=10, what="the page's stream to end")
        finally:
            viewer.close()
