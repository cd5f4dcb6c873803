"""The server process: bind, TLS, credentials, health, phases, supervisor.

``lifecycle`` runs one server (start, drain, stop), ``service`` answers each
call with a Conversation (``stream/``), ``supervisor`` runs several server
processes on one port.
"""

from .lifecycle import ExtensionServer, serve

__all__ = ["ExtensionServer", "serve"]
