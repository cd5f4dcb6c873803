"""The simulator's web view: graphs, live annotated frames, events and recordings.

The graphs tell an :class:`Observatory` (a ``GraphObserver`` of
``lva_simulator.graph.observer``) what they do; :class:`WebView` serves what it
holds on its own port, behind an access token (access.py), with the
recordings the simulator lists. Pages are Jinja2 templates; the browser side
is plain JavaScript and CSS in ``static/``, no build step.
"""

from .observatory import Observatory
from .server import WebOptions, WebView

__all__ = ["Observatory", "WebOptions", "WebView"]
