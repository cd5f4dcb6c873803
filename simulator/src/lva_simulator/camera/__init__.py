"""The rtspsim-like camera: a folder of videos served over RTSP by its own process."""

from .process import CameraError, CameraProcess

__all__ = ["CameraError", "CameraProcess"]
