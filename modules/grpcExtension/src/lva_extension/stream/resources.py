"""What every conversation of one server shares."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass, field

from ..models import ModelRepository
from ..processors import LoadingRules, parse_configuration
from ..settings import Settings
from ..telemetry import Telemetry
from ..transports import SharedMemoryLimits
from .limits import ByteBudget, StreamSlots
from .processes import ProcessingPool


@dataclass
class ServerResources:
    """What every conversation of one server shares."""

    settings: Settings
    executor: Executor
    telemetry: Telemetry
    slots: StreamSlots
    budget: ByteBudget
    pool: ProcessingPool | None = None  # processingProcesses
    # Where processors are created (models loaded): not the frames' threads, so that a
    # slow or stuck constructor never holds back another stream's frames.
    opener: Executor | None = None
    models: ModelRepository | None = None  # modelRepository
    rules: LoadingRules = field(init=False)  # which processors streams may load
    shm_limits: SharedMemoryLimits = field(init=False)

    def __post_init__(self) -> None:
        settings = self.settings
        self.rules = LoadingRules.of(
            settings, parse_configuration("", settings.default_processor).name
        )
        self.shm_limits = SharedMemoryLimits(
            settings.max_shared_memory_mib * (1 << 20), settings.shared_memory_copy
        )
