"""A local stand-in for IoT Hub and the Live Video Analytics edge module.

``lva-simulator serve`` answers the direct methods the cloud-to-device console
app (azure-iot-hub) sends, keeps graph topologies and instances as LVA 2.0
does, and runs active instances against a gRPC extension.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lva-simulator")
except PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0+unknown"
