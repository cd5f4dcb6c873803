"""The model server: models configured on the server, chosen by streams by name,
their frames batched across streams.

``config`` reads a model folder, ``version`` loads it (ONNX Runtime sessions,
input, decoders), ``batcher`` gathers frames of every stream into the model's
batches, ``repository`` finds, loads and reloads the models. Streams reach it
through stream/model_runner.py. ONNX Runtime is imported only when a model
loads.
"""

from .batcher import ModelBatcher, Reservation
from .config import repository_room
from .repository import ModelRepository, ServedModel
from .version import ModelVersion

__all__ = [
    "ModelBatcher",
    "ModelRepository",
    "ModelVersion",
    "Reservation",
    "ServedModel",
    "repository_room",
]
