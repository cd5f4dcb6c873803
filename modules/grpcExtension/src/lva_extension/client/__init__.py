"""The LVA side of the conversation, as a library: stream frames, get inferences.

    fmt = StreamFormat(width=416, height=416)
    options = ClientOptions("127.0.0.1:5001", fmt, shared_memory=True)
    client = ExtensionClient(options)
    async for result in client.stream(frames):
        print(result.sequence, result.inferences)
    print(client.summary.describe())

The command ``lva-extension send``, the benchmark and the simulator's
extension nodes use it. It never imports the server side.
"""

from .extension_client import (
    ClientOptions,
    ExtensionCallError,
    ExtensionClient,
    SendableFrame,
    StreamFormat,
    TimedFrame,
)
from .tracking import FrameResult, StreamSummary

__all__ = [
    "ClientOptions",
    "ExtensionCallError",
    "ExtensionClient",
    "FrameResult",
    "SendableFrame",
    "StreamFormat",
    "StreamSummary",
    "TimedFrame",
]
