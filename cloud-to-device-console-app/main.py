"""Run the LVA direct methods of operations.json against an LVA module, through IoT Hub.

    python main.py                      # appsettings.json and operations.json beside this file
    python main.py --operations other.json --no-wait --stop-on-error

Settings (IoThubConnectionString, deviceId, moduleId) come from the environment,
then a .env file in the working directory, then appsettings.json. Each
operation is sent with azure-iot-hub's invoke_device_module_method; requests and
responses are printed. Exit code: 0 if every operation succeeded, 1 if one
failed, 2 if the settings or operations could not be read.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import re
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
SETTING_NAMES = ("IoThubConnectionString", "deviceId", "moduleId")
# Other names a setting is known by (iotedgedev's .env uses IOTHUB_CONNECTION_STRING).
ALIASES = {"IoThubConnectionString": ("IOTHUB_CONNECTION_STRING",)}
SECRET = re.compile(r"password|secret|key|token", re.IGNORECASE)


class SetupError(Exception):
    """Settings or operations that cannot be used; the message names what and where."""


class InvokeError(Exception):
    """A call that did not reach the module or was refused by IoT Hub (one line)."""


# --- settings and operations -----------------------------------------------


@dataclass(frozen=True)
class AppSettings:
    connection_string: str
    device_id: str
    module_id: str

    @classmethod
    def load(
        cls, path: Path, environ: Mapping[str, str], env_file: Path = Path(".env")
    ) -> AppSettings:
        from dotenv import dotenv_values

        from_json: dict[str, Any] = {}
        if path.is_file():
            try:
                from_json = json.loads(path.read_text())
            except json.JSONDecodeError as error:
                raise SetupError(f"{path} is not valid JSON: {error}") from None
            if not isinstance(from_json, dict):
                raise SetupError(f"{path}: expected a JSON object with {', '.join(SETTING_NAMES)}")
        from_env_file = dotenv_values(env_file) if env_file.is_file() else {}
        values: dict[str, str] = {}
        for name in SETTING_NAMES:
            for source in (environ, from_env_file):
                for key in (name, *ALIASES.get(name, ())):
                    if not values.get(name) and source.get(key):
                        values[name] = str(source[key])
            if not values.get(name) and from_json.get(name):
                values[name] = str(from_json[name])
        missing = [n for n in SETTING_NAMES if not values.get(n)]
        if missing:
            where = f"{path}" if path.is_file() else f"{path} (not found)"
            raise SetupError(
                f"missing {', '.join(missing)}: set them in {where}, in the environment or in .env"
            )
        return cls(values["IoThubConnectionString"], values["deviceId"], values["moduleId"])


@dataclass(frozen=True)
class Operation:
    name: str
    params: dict[str, Any]


def load_operations(path: Path) -> tuple[str, list[Operation]]:
    """The apiVersion and operations of an operations.json."""
    if not path.is_file():
        raise SetupError(f"operations file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise SetupError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("operations"), list):
        raise SetupError(f'{path}: expected {{"apiVersion": "2.0", "operations": [...]}}')
    version = data.get("apiVersion")
    if not isinstance(version, str) or not version:
        raise SetupError(f"{path}: apiVersion is required (the module's API version, e.g. 2.0)")
    operations = []
    for i, item in enumerate(data["operations"]):
        if not isinstance(item, dict) or not isinstance(item.get("opName"), str):
            raise SetupError(f'{path}: operation {i + 1} needs an "opName"')
        params = item.get("opParams") or {}
        if not isinstance(params, dict):
            raise SetupError(f'{path}: "opParams" of operation {i + 1} must be an object')
        operations.append(Operation(item["opName"], params))
    return version, operations


def read_topology(params: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """The topology JSON named by topologyUrl (https or file://) or topologyFile."""
    if params.get("topologyUrl"):
        url = str(params["topologyUrl"])
        parts = urlsplit(url)
        if parts.scheme == "file":
            text = _read_file(Path(urllib.request.url2pathname(parts.path)), "topologyUrl")
        elif parts.scheme == "https":
            try:
                context = ssl.create_default_context()
                with urllib.request.urlopen(url, timeout=30, context=context) as response:
                    text = response.read().decode()
            except (urllib.error.URLError, OSError) as error:
                raise SetupError(f"cannot download topologyUrl {url}: {error}") from None
        else:
            raise SetupError(f"topologyUrl must be an https:// or file:// URL, got {url!r}")
        source = url
    elif params.get("topologyFile"):
        path = base / str(params["topologyFile"])
        text, source = _read_file(path, "topologyFile"), str(path)
    else:
        raise SetupError("GraphTopologySet needs opParams.topologyUrl or opParams.topologyFile")
    try:
        topology = json.loads(text)
    except json.JSONDecodeError as error:
        raise SetupError(f"the topology {source} is not valid JSON: {error}") from None
    if not isinstance(topology, dict):
        raise SetupError(f"the topology {source} must be a JSON object")
    return topology


def _read_file(path: Path, what: str) -> str:
    if not path.is_file():
        raise SetupError(f"{what} not found: {path.resolve()}")
    return path.read_text()


# --- calling the module ---------------------------------------------------------


class Invoker(Protocol):
    def invoke(self, method: str, payload: Any, timeout: int) -> tuple[int, Any]: ...


class HubInvoker:
    """invoke_device_module_method of azure-iot-hub, its errors made one line each."""

    def __init__(self, settings: AppSettings) -> None:
        from azure.iot.hub import IoTHubRegistryManager  # type: ignore[import-untyped]

        self.settings = settings
        self.host = _host_of(settings.connection_string)
        try:
            _check_pairs(settings.connection_string)
            self.registry = IoTHubRegistryManager.from_connection_string(settings.connection_string)
        except (ValueError, KeyError, binascii.Error, TypeError) as error:
            raise SetupError(
                "IoThubConnectionString is not an IoT Hub connection string"
                f" (HostName=...;SharedAccessKeyName=...;SharedAccessKey=...): {_reason(error)}"
            ) from None

    def invoke(self, method: str, payload: Any, timeout: int) -> tuple[int, Any]:
        from azure.iot.hub.models import CloudToDeviceMethod  # type: ignore[import-untyped]
        from msrest.exceptions import ClientRequestError, HttpOperationError

        request = CloudToDeviceMethod(
            method_name=method,
            payload=payload,
            response_timeout_in_seconds=timeout,
            connect_timeout_in_seconds=timeout,
        )
        device, module = self.settings.device_id, self.settings.module_id
        try:
            result = self.registry.invoke_device_module_method(device, module, request)
        except HttpOperationError as error:
            raise InvokeError(self._http_error(error.response)) from None
        except ClientRequestError as error:
            raise InvokeError(f"cannot reach the IoT hub at {self.host}: {_cause(error)}") from None
        return int(result.status), result.payload

    def _http_error(self, response: Any) -> str:
        status = int(response.status_code)
        message = _hub_message(response.text)
        if status == 401:
            return (
                f"IoT Hub refused the credentials (401 Unauthorized): {message}."
                " Check the SharedAccessKey of IoThubConnectionString"
            )
        if status == 404:
            return (
                f"IoT Hub answered 404 Not Found: {message}. Check deviceId"
                f" {self.settings.device_id!r} and moduleId {self.settings.module_id!r}"
            )
        return f"IoT Hub answered {status} {response.reason}: {message}"


def _check_pairs(connection_string: str) -> None:
    for number, part in enumerate(connection_string.split(";"), start=1):
        name, sep, value = part.partition("=")
        if not sep or not name:  # the part is not shown: it may hold the key
            raise ValueError(f"expected Name=value pairs separated by ';'; part {number} is not")
        if name == "SharedAccessKey":
            base64.b64decode(value, validate=True)  # the SDK would skip bad characters


def _host_of(connection_string: str) -> str:
    for part in connection_string.split(";"):
        if part.startswith("HostName="):
            return part.removeprefix("HostName=")
    return "?"


def _reason(error: BaseException) -> str:
    if isinstance(error, KeyError):
        return f"it lacks {error}"
    if isinstance(error, binascii.Error):
        return "SharedAccessKey is not valid base64"
    return str(error) or type(error).__name__


def _cause(error: BaseException) -> str:
    text = str(error)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return (
            "its TLS certificate is not trusted (for the simulator, set REQUESTS_CA_BUNDLE to"
            " its certificate file)"
        )
    found = re.findall(r"\[Errno -?\d+\] [^'\")]+", text)
    if found:
        return found[-1].strip()
    return text.splitlines()[0] if text else type(error).__name__


def _hub_message(body: str) -> str:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, TypeError):
        return body.strip()[:300] or "(no details)"
    if isinstance(data, dict):
        message = data.get("message") or data.get("Message") or data
        code = data.get("errorCode")
        return f"{message} (errorCode {code})" if code else str(message)
    return str(data)


def module_error(payload: Any) -> str:
    """The OData error of a failed method, as one line."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return json.dumps(payload)
    text = f"{error.get('code', '?')}: {error.get('message', '')}"
    for detail in error.get("details") or []:
        if isinstance(detail, dict):
            target = f" at {detail['target']}" if detail.get("target") else ""
            text += f"; {detail.get('code')}{target}: {detail.get('message')}"
    return text


# --- running the operations ---------------------------------------------------


def _masked(value: Any) -> Any:
    """A copy for printing, without the values of secret-looking parameters."""
    if isinstance(value, dict):
        out = {k: _masked(v) for k, v in value.items()}
        if isinstance(out.get("name"), str) and SECRET.search(out["name"]) and "value" in out:
            out["value"] = "********"
        return out
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


@dataclass(frozen=True)
class RunOptions:
    no_wait: bool = False
    stop_on_error: bool = False
    brief: bool = False
    timeout: int = 30


class OperationRunner:
    def __init__(
        self,
        invoker: Invoker,
        api_version: str,
        base: Path,
        options: RunOptions,
        out: TextIO = sys.stdout,
        interactive: bool = False,
    ) -> None:
        self.invoker = invoker
        self.api_version = api_version
        self.base = base
        self.options = options
        self.out = out
        self.interactive = interactive and not options.no_wait

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def run(self, operations: Sequence[Operation]) -> int:
        """Run every operation; returns how many failed."""
        failures = 0
        for operation in operations:
            try:
                self.run_one(operation)
            except (SetupError, InvokeError) as error:
                failures += 1
                self.say(f"error: {operation.name}: {error}")
                if self.options.stop_on_error:
                    self.say("stopping at the first failure (--stop-on-error)")
                    break
        return failures

    def run_one(self, operation: Operation) -> None:
        if operation.name == "WaitForInput":
            self.wait(operation.params)
            return
        if operation.name == "GraphTopologySet":
            payload = read_topology(operation.params, self.base)
            payload.setdefault("@apiVersion", self.api_version)
        else:
            payload = {"@apiVersion": self.api_version, **operation.params}
        self.call(operation.name, payload)

    def wait(self, params: Mapping[str, Any]) -> None:
        message = str(params.get("message", "Press Enter to continue"))
        if self.interactive:
            self.say(message)
            input()
            return
        seconds = params.get("seconds")
        if isinstance(seconds, int | float) and seconds > 0:
            self.say(f"{message} (not waiting for Enter: continuing in {seconds} s)")
            time.sleep(seconds)

    def call(self, method: str, payload: dict[str, Any]) -> None:
        if not self.options.brief:
            self.say(f"\n{'-' * 20}  Request: {method}  {'-' * 20}")
            self.say(json.dumps(_masked(payload), indent=2))
        status, result = self.invoker.invoke(method, payload, self.options.timeout)
        if self.options.brief:
            self.say(f"{method}: status {status}")
        else:
            self.say(f"{'-' * 12}  Response: {method} - Status: {status}  {'-' * 12}")
            if result is not None:
                self.say(json.dumps(_masked(result), indent=2))
        if status >= 400:
            raise InvokeError(f"the module answered {status}: {module_error(result)}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Invoke the LVA direct methods of operations.json through IoT Hub."
    )
    parser.add_argument(
        "--operations", type=Path, default=HERE / "operations.json", help="[operations.json here]"
    )
    parser.add_argument(
        "--settings", type=Path, default=HERE / "appsettings.json", help="[appsettings.json here]"
    )
    parser.add_argument("--no-wait", action="store_true", help="skip WaitForInput pauses")
    parser.add_argument(
        "--stop-on-error", action="store_true", help="end at the first failure (exit code 1)"
    )
    parser.add_argument("--brief", action="store_true", help="one line per call: method, status")
    parser.add_argument("--timeout", type=int, default=30, help="seconds the module may take [30]")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = AppSettings.load(args.settings, os.environ)
        api_version, operations = load_operations(args.operations)
        invoker = HubInvoker(settings)
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    options = RunOptions(args.no_wait, args.stop_on_error, args.brief, args.timeout)
    runner = OperationRunner(
        invoker,
        api_version,
        args.operations.resolve().parent,
        options,
        interactive=sys.stdin.isatty(),
    )
    try:
        failures = runner.run(operations)
    except KeyboardInterrupt:
        return 130
    if failures:
        print(f"{failures} operation(s) failed", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
