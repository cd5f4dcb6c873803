"""The simulator's web view: graphs, live annotated frames, events and recordings.

The graphs publish into an :class:`Observatory` (the ``GraphObserver`` of
``lva_simulator.observer``); :class:`WebView` serves what it holds on its own
port, behind an access token (access.py). Pages are Jinja2 templates; the
browser side is plain JavaScript and CSS in ``static/``, no build step.
"""

from .observatory import Observatory
from .server import WebOptions, WebView

__all__ = ["Observatory", "WebOptions", "WebView"]
