"""The model repository: models configured on the server, chosen by streams by name.

``modelRepository`` names a directory with one folder per model
(config.py). Models load once per process, at start or at the first stream
that asks (``modelLoading``), on a thread; every ``modelPollSeconds`` the
folders are looked at again, and a folder that changed (and then stayed the
same for one more look, so that a copy under way is not loaded half-done) is
loaded as a new version: new frames go to it, batches already formed finish
on the old one, and no stream is dropped. A change that does not load is
logged and the old version goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Mapping
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, FailedPrecondition, InvalidArgument, quote, shorten
from ..files import FileRoom
from ..telemetry import ModelStats, Telemetry
from .batcher import ModelBatcher
from .config import read_config
from .version import ModelVersion, available_cores

log = logging.getLogger(__name__)

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

Fingerprint = tuple[tuple[str, int, int], ...]


def fingerprint(folder: Path) -> Fingerprint:
    """What changes when any file of a model folder changes: names, sizes, times."""
    entries = []
    with os.scandir(folder) as found:
        for entry in found:
            with contextlib.suppress(OSError):  # a file removed while we look
                info = entry.stat()  # follows links: a swapped target counts
                entries.append((entry.name, info.st_size, info.st_mtime_ns))
    return tuple(sorted(entries))


class ModelUnavailable(FailedPrecondition):
    """A model of the repository that does not load; streams are told to see the log."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"model {name!r} cannot be loaded (the server's log says why)")
        self.why = f"model {name}: {why}"


class ServedModel:
    """A model of the repository as streams see it: its current version, its batcher."""

    def __init__(self, version: ModelVersion, stats: ModelStats) -> None:
        self.name = version.name
        self.version = version
        self.stats = stats
        self.batcher = ModelBatcher(self._current, stats)

    def _current(self) -> ModelVersion:
        return self.version

    def stream_batcher(self, capacity: int) -> ModelBatcher:
        """A batcher of one stream's own (crossStreamBatching off)."""
        return ModelBatcher(self._current, self.stats, capacity)

    def check_stream_options(self, options: Mapping[str, Any]) -> None:
        """Refuse options the model's config does not let streams set, or bad values."""
        try:
            self.version.decoder_for(options)
        except (TypeError, ValueError) as error:
            raise InvalidArgument(f"model {self.name!r}: {shorten(str(error))}") from None


class ModelRepository:
    """The models of ``directory``, loaded once per process and reloaded when changed."""

    def __init__(
        self,
        room: FileRoom,
        executor: Executor,
        telemetry: Telemetry,
        load_at_start: bool = True,
        poll_seconds: float = 5.0,
    ) -> None:
        self.room = room
        self.directory = Path(room.root)
        self._executor = executor
        self._telemetry = telemetry
        self._load_at_start = load_at_start
        self._poll_seconds = poll_seconds
        self._cores = available_cores()
        self._models: dict[str, ServedModel] = {}
        self._loading: dict[str, asyncio.Future[ServedModel]] = {}
        self._rejected: dict[str, Fingerprint] = {}  # versions that failed to load
        self._known: set[str] = set()
        self._watcher: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Find the models (and load them, unless at first use); then watch for changes."""
        if not self.directory.is_dir():
            raise ConfigurationError(f"modelRepository: {self.directory} is not a directory")
        self._known = set(await self._in_thread(self._scan))
        if not self._known:
            log.warning("the model repository %s has no model folders", self.directory)
        if self._load_at_start:
            for name in sorted(self._known):
                try:
                    await self._load(name)
                except ModelUnavailable as error:
                    raise ConfigurationError(f"modelRepository: {error.why}") from None
        if self._poll_seconds:
            self._watcher = asyncio.create_task(self._watch())

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        for model in self._models.values():
            model.version.close()

    def names(self) -> list[str]:
        return sorted(self._known)

    def loaded(self) -> list[ServedModel]:
        return [self._models[name] for name in sorted(self._models)]

    # --- what streams ask for ----------------------------------------------------------

    async def get(self, name: object) -> ServedModel:
        """The model a stream named, loading it if this is its first use."""
        checked = self._checked_name(name)
        model = self._models.get(checked)
        if model is not None:
            return model
        if checked not in self._known:
            self._known = set(await self._in_thread(self._scan))  # added since the last look?
            if checked not in self._known:
                raise InvalidArgument(f"unknown model {checked!r}; {self._known_models()}")
        return await self._load(checked)

    def _checked_name(self, name: object) -> str:
        if isinstance(name, str) and MODEL_NAME.match(name) and not name.endswith(".onnx"):
            return name
        if isinstance(name, str) and ("/" in name or "\\" in name or name.endswith(".onnx")):
            raise InvalidArgument(
                f"model: a stream cannot name a file ({quote(name)}); it chooses a model of"
                f" the server's repository by name; {self._known_models()}"
            )
        raise InvalidArgument(
            f"model: expected the name of a model of the repository, got {quote(str(name))};"
            f" {self._known_models()}"
        )

    def _known_models(self) -> str:
        return f"known models: {', '.join(sorted(self._known)) or 'none'}"

    # --- loading ---------------------------------------------------------------------

    async def _load(self, name: str) -> ServedModel:
        """Load a model once, however many streams ask for it at the same time."""
        loading = self._loading.get(name)
        if loading is None:
            loading = asyncio.ensure_future(self._load_first(name))
            self._loading[name] = loading
            loading.add_done_callback(lambda _: self._loading.pop(name, None))
        return await asyncio.shield(loading)

    async def _load_first(self, name: str) -> ServedModel:
        version = await self._load_version(name)
        model = ServedModel(version, self._telemetry.model(name))
        self._models[name] = model
        return model

    async def _load_version(self, name: str) -> ModelVersion:
        folder = self.directory / name
        try:
            stamp = await self._in_thread(fingerprint, folder)
        except OSError as error:
            raise ModelUnavailable(name, f"its folder cannot be read ({error.strerror})") from None
        if self._rejected.get(name) == stamp:
            # Unchanged since it failed: say so again without loading it again.
            raise ModelUnavailable(name, "unchanged since it failed to load")
        try:
            version = await self._in_thread(load_version, self.room, name, self._cores, stamp)
        except Exception as error:
            self._rejected[name] = stamp
            log.error("model %s cannot be loaded: %s", name, reason(error))
            raise ModelUnavailable(name, reason(error)) from None
        self._rejected.pop(name, None)
        log.info(
            "model %s loaded in %.2fs: input %s, %s decoder, %s; %s",
            name,
            version.load_seconds,
            version.input.describe(version.shapes.inputs[0][2]),
            version.config.options.decoder,
            version.batching.describe(),
            version.describe(),
        )
        return version

    def _scan(self) -> list[str]:
        return model_folders(self.directory)

    async def _in_thread(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    # --- watching --------------------------------------------------------------------

    async def _watch(self) -> None:
        changing: dict[str, Fingerprint] = {}
        while True:
            await asyncio.sleep(self._poll_seconds)
            try:
                await self._look(changing)
            except Exception:
                log.exception("looking for changed models in %s failed", self.directory)

    async def _look(self, changing: dict[str, Fingerprint]) -> None:
        found = await self._in_thread(self._fingerprints)
        for name in sorted(set(self._models) - set(found)):
            log.warning(
                "model %s: its folder is gone; streams using it go on with the loaded"
                " version, new streams cannot choose it",
                name,
            )
            del self._models[name]
        self._known = set(found)
        for name, stamp in sorted(found.items()):
            model = self._models.get(name)
            if model is None and not self._load_at_start:
                continue  # loaded at its first use
            if model is not None and stamp == model.version.fingerprint:
                changing.pop(name, None)
                continue
            if changing.get(name) != stamp:
                changing[name] = stamp  # changed: load it once it stays as it is
                continue
            if self._rejected.get(name) == stamp or name in self._loading:
                continue
            await self._reload(name, model)

    async def _reload(self, name: str, model: ServedModel | None) -> None:
        try:
            version = await self._load_version(name)
        except ModelUnavailable:
            if model is not None:
                log.warning("model %s: the loaded version goes on serving", name)
            return
        if model is None:
            self._models[name] = ServedModel(version, self._telemetry.model(name))
            return
        # In-flight batches hold the old version and finish on it; its threads
        # end when nothing refers to it any more.
        model.version = version
        log.info("model %s reloaded; open streams go on with the new version", name)

    def _fingerprints(self) -> dict[str, Fingerprint]:
        stamps = {}
        for name in self._scan():
            with contextlib.suppress(OSError):
                stamps[name] = fingerprint(self.directory / name)
        return stamps


def model_folders(directory: Path) -> list[str]:
    """The names of the model folders in a repository."""
    names = []
    with os.scandir(directory) as found:
        for entry in found:
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            if MODEL_NAME.match(entry.name) and not entry.name.endswith(".onnx"):
                names.append(entry.name)
            else:
                log.debug("model folder %r ignored: not a model name", entry.name)
    return sorted(names)


def load_version(
    room: FileRoom, name: str, cores: int, stamp: Fingerprint | None = None
) -> ModelVersion:
    """Read and load one model folder (slow: on a thread)."""
    stamp = fingerprint(Path(room.root) / name) if stamp is None else stamp
    return ModelVersion(read_config(name, room), stamp, cores)


def reason(error: BaseException) -> str:
    """An error as one short line."""
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]
