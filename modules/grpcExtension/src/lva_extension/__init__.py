"""A Live Video Analytics / Azure Video Analyzer gRPC extension server.

The names a processor author needs are importable from here::

    from lva_extension import Frame, Processor, inferences
"""

from importlib.metadata import PackageNotFoundError, version

from . import inferences
from .processors.base import Frame, Processor

try:
    __version__ = version("lva-extension")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["Frame", "Processor", "__version__", "inferences"]
