"""The server's one settings object.

Every setting is declared once, below, with the environment name the
deployment manifest uses. Values come from CLI flags, then environment
variables, then a ``.env`` file in the working directory, then the default.
The CLI flags are derived from the same declarations (``--batch-size`` for
``batchSize``), so nothing is declared twice.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from .errors import ConfigurationError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MODEL_LOADING = ("start", "firstUse")


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def setting(
    default: Any,
    env: str,
    help: str,
    *,
    secret: bool = False,
    at_least: float | None = None,
    at_most: float | None = None,
    choices: tuple[str, ...] = (),
    check: Callable[[Any], object] | None = None,
) -> Any:
    """Declare one setting: its default, environment name, help text and valid values.

    ``at_least`` / ``at_most`` bound numbers, ``choices`` lists the valid words
    (any case), and ``check`` raises ConfigurationError for anything else wrong.
    """
    parse: Callable[[str], Any] = str
    if isinstance(default, bool):
        parse = _parse_bool
    elif isinstance(default, int):
        parse = int
    elif isinstance(default, float):
        parse = float
    return field(
        default=default,
        repr=not secret,
        metadata={
            "env": env,
            "help": help,
            "parse": parse,
            "valid": _Valid(at_least, at_most, choices, check),
        },
    )


@dataclass(frozen=True)
class _Valid:
    """The values one setting accepts."""

    at_least: float | None
    at_most: float | None
    choices: tuple[str, ...]
    check: Callable[[Any], object] | None

    def describe(self) -> str:
        if self.choices:
            return " or ".join(self.choices)
        if self.at_least is not None and self.at_most is not None:
            return f"{self.at_least:g} to {self.at_most:g}"
        if self.at_least is not None:
            return "0 or more" if self.at_least == 0 else f"at least {self.at_least:g}"
        return f"at most {self.at_most:g}"

    def validate(self, env: str, value: Any) -> None:
        if self.check is not None:
            self.check(value)
        if self.choices:
            ok = str(value).upper() in (c.upper() for c in self.choices)
        else:
            ok = (self.at_least is None or value >= self.at_least) and (
                self.at_most is None or value <= self.at_most
            )
        if not ok:
            raise ConfigurationError(f"{env}: expected {self.describe()}, got {value}")


@dataclass(frozen=True)
class Binding:
    """Where the server listens, parsed from ``grpcBinding``."""

    scheme: str  # "tcp" or "unix"
    host: str
    port: int
    path: str

    @property
    def address(self) -> str:
        """The address in the form grpc's add_*_port takes."""
        if self.scheme == "unix":
            return f"unix://{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def client_address(self) -> str:
        """An address a local client can dial (0.0.0.0 and :: become loopback)."""
        if self.scheme == "unix":
            return self.address
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        return Binding("tcp", host, self.port, "").address


_TCP_BINDING = re.compile(
    r"^tcp://(?:\[(?P<v6>[0-9a-fA-F:.]+)\]|(?P<host>[^:/\[\]]*)):(?P<port>\d+)$"
)


def parse_binding(text: str) -> Binding:
    if text.startswith("unix://"):
        path = text[len("unix://") :]
        if not path.startswith("/"):
            raise ConfigurationError(f"grpcBinding: expected unix:///absolute/path, got {text!r}")
        return Binding("unix", "", 0, path)
    match = _TCP_BINDING.match(text)
    if not match or not 0 <= int(match["port"]) <= 65535:
        raise ConfigurationError(
            f"grpcBinding: expected tcp://HOST:PORT (port 0-65535) or unix:///path, got {text!r}"
        )
    return Binding("tcp", match["v6"] or match["host"] or "0.0.0.0", int(match["port"]), "")


_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")


def is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def parse_module_prefixes(text: str) -> tuple[str, ...]:
    """``"my_models, acme.vision."`` -> ("my_models", "acme.vision")."""
    prefixes = tuple(part.strip().rstrip(".") for part in text.split(",") if part.strip())
    for prefix in prefixes:
        if not _MODULE.match(prefix) or any(is_dunder(p) for p in prefix.split(".")):
            raise ConfigurationError(
                "allowedProcessorModules: expected module names separated by commas"
                f" (my_models,acme.vision), got {prefix!r}"
            )
    return prefixes


def _has_name(value: str) -> None:
    if not value.strip():
        raise ConfigurationError("defaultProcessor: expected a name, got ''")


@dataclass(frozen=True)
class Settings:
    grpc_binding: str = setting(
        "tcp://0.0.0.0:5001",
        "grpcBinding",
        "where to listen: tcp://HOST:PORT or unix:///path",
        check=parse_binding,
    )
    batch_size: int = setting(1, "batchSize", "frames handed to the processor at once", at_least=1)
    batch_timeout_ms: float = setting(
        50.0,
        "batchTimeoutMs",
        "a partial batch is processed after this many milliseconds",
        at_least=0,
    )
    max_message_size_mib: int = setting(
        64,
        "maxMessageSizeMiB",
        "largest gRPC message accepted, in MiB (embedded frames)",
        at_least=1,
        at_most=2047,
    )
    default_processor: str = setting(
        "colorIntensity",
        "defaultProcessor",
        "processor used when a stream's extension_configuration is empty",
        check=_has_name,
    )
    allow_processor_paths: bool = setting(
        False,
        "allowProcessorPaths",
        "let extension_configuration name a processor by dotted path package.module:Class"
        " (only from allowedProcessorModules)",
    )
    allowed_processor_modules: str = setting(
        "",
        "allowedProcessorModules",
        "module prefixes dotted paths may name, comma-separated (e.g. my_models,acme.vision)",
        check=parse_module_prefixes,
    )
    model_dir: str = setting(
        "/models",
        "modelDir",
        "the directory whose files (models, labels) stream options may name",
    )
    max_model_file_mib: int = setting(
        1024,
        "maxModelFileMiB",
        "largest model, labels or config file the server reads (modelDir, modelRepository), in MiB",
        at_least=1,
    )
    model_read_seconds: float = setting(
        60.0,
        "modelReadSeconds",
        "reading one model, labels or config file may take this long",
        at_least=0.1,
    )
    model_repository: str = setting(
        "",
        "modelRepository",
        "a directory of models, one folder each, that streams choose by name (unset: none)",
    )
    model_loading: str = setting(
        "start",
        "modelLoading",
        "load the repository's models at start, or at a stream's first use",
        choices=MODEL_LOADING,
    )
    model_poll_seconds: float = setting(
        5.0,
        "modelPollSeconds",
        "look for changed model folders this often, and reload them (0: never)",
        at_least=0,
    )
    cross_stream_batching: bool = setting(
        True,
        "crossStreamBatching",
        "streams of the same model share its batches (false: each stream batches alone)",
    )
    max_in_flight: int = setting(
        16,
        "maxInFlight",
        "samples of one stream being processed at once (read no further)",
        at_least=1,
    )
    max_frame_pixels: int = setting(
        40_000_000,
        "maxFramePixels",
        "largest frame accepted, in pixels (width x height)",
        at_least=1,
    )
    processing_threads: int = setting(
        0,
        "processingThreads",
        "threads that decode and process frames (0: CPU count + 4)",
        at_least=0,
    )
    processing_processes: int = setting(
        0,
        "processingProcesses",
        "run processors in this many processes, each stream pinned to one (0: in this one)",
        at_least=0,
        at_most=256,
    )
    inline_processing_ms: float = setting(
        3.0,
        "inlineProcessingMs",
        "batches that take less than this run on the event loop, not a thread (0: never)",
        at_least=0,
    )
    workers: int = setting(
        1,
        "workers",
        "server processes sharing the port (more cores serve streams)",
        at_least=1,
        at_most=64,
    )
    reuse_port: bool = setting(
        False, "reusePort", "let other processes listen on the same port (set for workers)"
    )
    max_streams: int = setting(
        64,
        "maxStreams",
        "streams served at once; more callers get RESOURCE_EXHAUSTED",
        at_least=1,
    )
    max_held_mib: int = setting(
        512,
        "maxHeldMiB",
        "MiB of embedded frames held for all streams (reading waits beyond)",
        at_least=1,
    )
    max_shared_memory_mib: int = setting(
        1024,
        "maxSharedMemoryMiB",
        "largest shared memory buffer a stream may ask this server to map, in MiB",
        at_least=1,
    )
    shared_memory_copy: bool = setting(
        False,
        "sharedMemoryCopy",
        "copy shared-memory frames (pread) instead of reading the mapping: a client that"
        " shrinks its file can never crash the server, at one copy per frame",
    )
    handshake_timeout_seconds: float = setting(
        10.0,
        "handshakeTimeoutSeconds",
        "a stream's descriptor must arrive this soon after the call starts",
        at_least=0.1,
    )
    idle_timeout_seconds: float = setting(
        300.0,
        "idleTimeoutSeconds",
        "end a stream whose client sends nothing for this long while it is awaited (0: never)",
        at_least=0,
    )
    auth_username: str = setting("", "authUsername", "require these Basic credentials on calls")
    auth_password: str = setting("", "authPassword", "the password for authUsername", secret=True)
    auth_password_file: str = setting(
        "", "authPasswordFile", "a file holding the password (read once at start)"
    )
    tls_cert_file: str = setting("", "tlsCertFile", "PEM certificate (chain): serve TLS")
    tls_key_file: str = setting("", "tlsKeyFile", "PEM private key of tlsCertFile")
    shutdown_grace_seconds: float = setting(
        10.0,
        "shutdownGraceSeconds",
        "on SIGTERM, open streams may finish for this long",
        at_least=0,
    )
    metrics_port: int = setting(
        0, "metricsPort", "serve Prometheus metrics here (0: off)", at_least=0, at_most=65535
    )
    stats_interval_seconds: float = setting(
        60.0, "statsIntervalSeconds", "log a stats line this often (0: never)", at_least=0
    )
    log_level: str = setting(
        "INFO", "logLevel", "DEBUG, INFO, WARNING, ERROR or CRITICAL", choices=LOG_LEVELS
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            f.metadata["valid"].validate(f.metadata["env"], getattr(self, f.name))
        if self.allow_processor_paths and not self.allowed_processor_modules.strip():
            raise ConfigurationError(
                "allowProcessorPaths: name the modules streams may load in"
                " allowedProcessorModules (e.g. my_models)"
            )

    @property
    def binding(self) -> Binding:
        return parse_binding(self.grpc_binding)

    @property
    def max_message_bytes(self) -> int:
        return self.max_message_size_mib * 1024 * 1024

    @property
    def in_flight_limit(self) -> int:
        # A batch must be able to fill, or every batch would wait for its timeout.
        return max(self.max_in_flight, self.batch_size)

    @classmethod
    def load(
        cls,
        flags: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        env_file: Path | None = Path(".env"),
    ) -> Settings:
        """Build settings from CLI flags (by field name), environment, .env file."""
        environ = os.environ if environ is None else environ
        from_file: Mapping[str, str | None] = {}
        if env_file is not None and env_file.is_file():
            from_file = dotenv_values(env_file)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            env = f.metadata["env"]
            flag = (flags or {}).get(f.name)
            if flag is not None:
                values[f.name] = _convert(f, flag, f"--{_flag_name(f.name)}")
            elif env in environ:
                values[f.name] = _convert(f, environ[env], f"environment variable {env}")
            elif from_file.get(env) is not None:
                values[f.name] = _convert(f, from_file[env], f"{env} in {env_file}")
        return cls(**values)


def _convert(f: dataclasses.Field[Any], value: Any, source: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return f.metadata["parse"](value)
    except ValueError as error:
        raise ConfigurationError(f"{source}: {error}") from None


def _flag_name(field_name: str) -> str:
    return field_name.replace("_", "-")


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """Add one ``--flag`` per setting; each defaults to None (= not given)."""
    for f in dataclasses.fields(Settings):
        shown = "(secret)" if not f.repr else f.default
        parser.add_argument(
            f"--{_flag_name(f.name)}",
            dest=f.name,
            default=None,
            help=f"{f.metadata['help']} [env {f.metadata['env']}; default {shown}]",
        )
