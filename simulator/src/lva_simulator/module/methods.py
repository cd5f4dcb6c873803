"""The LVA module's direct methods, with LVA 2.0 semantics.

Ten methods (GraphTopologySet/Get/List/Delete, GraphInstanceSet/Get/List/
Activate/Deactivate/Delete), each answering ``(status, payload)``. Rules kept
from LVA: every payload names a supported ``@apiVersion``; a topology cannot
change while an instance of it is active, nor be deleted while instances
refer to it; an instance can change or be deleted only while inactive;
deleting what does not exist answers 204; activating an active instance or
deactivating an inactive one succeeds at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..graph.plan import GraphPlan, PlanError, compile_plan
from ..graph.runner import GraphRun
from ..times import now_iso
from .errors import (
    ErrorDetail,
    MethodError,
    bad_request,
    conflict,
    invalid_resource,
    module_validation,
    not_found,
)
from .store import Store
from .topology import (
    Json,
    check_instance,
    check_instance_against,
    check_topology,
    resolve,
)

log = logging.getLogger(__name__)

API_VERSIONS = ("1.0", "2.0")
INACTIVE, ACTIVATING, ACTIVE, DEACTIVATING = "Inactive", "Activating", "Active", "Deactivating"

Result = tuple[int, Any]
RunFactory = Callable[[GraphPlan], GraphRun]


def _name(payload: Json) -> str:
    name = payload.get("name")
    if not isinstance(name, str) or not name:
        raise invalid_resource([ErrorDetail("PropertyRequired", "name is required", "$.name")])
    return name


class LvaModule:
    """The graph topologies and instances of one simulated LVA module."""

    def __init__(self, store: Store, make_run: RunFactory) -> None:
        self.store = store
        self.make_run = make_run
        self.runs: dict[str, GraphRun] = {}
        self._transient: dict[str, str] = {}  # Activating / Deactivating, while it lasts
        self._endings: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._methods: dict[str, Callable[[Json], Awaitable[Result]]] = {
            "GraphTopologySet": self.topology_set,
            "GraphTopologyGet": self.topology_get,
            "GraphTopologyList": self.topology_list,
            "GraphTopologyDelete": self.topology_delete,
            "GraphInstanceSet": self.instance_set,
            "GraphInstanceGet": self.instance_get,
            "GraphInstanceList": self.instance_list,
            "GraphInstanceActivate": self.instance_activate,
            "GraphInstanceDeactivate": self.instance_deactivate,
            "GraphInstanceDelete": self.instance_delete,
        }

    async def invoke(self, method: str, payload: Any) -> Result:
        """Answer one direct method call as LVA would: (status, payload)."""
        handler = self._methods.get(method)
        try:
            if handler is None:
                raise bad_request(
                    f"Unknown method {method!r}. The module supports: {', '.join(self._methods)}."
                )
            if not isinstance(payload, dict):
                raise bad_request('The payload must be a JSON object with "@apiVersion".')
            version = payload.get("@apiVersion")
            if version not in API_VERSIONS:
                raise MethodError(
                    400,
                    "ApiVersionNotSupported",
                    f"API version {version!r} is not supported; use one of"
                    f' {", ".join(API_VERSIONS)} in "@apiVersion".',
                )
            return await handler(payload)
        except MethodError as error:
            log.info("%s: %s", method, error)
            return error.status, error.payload()
        except Exception:  # a bug: answer as LVA does, keep serving
            log.exception("%s failed", method)
            internal = MethodError(500, "InternalServerError", "Internal error (see the log).")
            return internal.status, internal.payload()

    def state(self, name: str) -> str:
        return self._transient.get(name) or self.store.instances[name]["properties"]["state"]

    # --- topologies ---

    async def topology_set(self, payload: Json) -> Result:
        topology = check_topology(payload)
        name = topology["name"]
        async with self._lock:
            existing = self.store.topologies.get(name)
            if existing is not None:
                self._check_update(topology)
            now = now_iso()
            created = existing["systemData"]["createdAt"] if existing else now
            topology["systemData"] = {"createdAt": created, "lastModifiedAt": now}
            self.store.topologies[name] = topology
            self.store.save()
        return (200 if existing else 201), topology

    def _check_update(self, topology: Json) -> None:
        name = topology["name"]
        users = self.store.instances_of(name)
        active = [i for i in users if self.state(i) != INACTIVE]
        if active:
            raise conflict(
                "GraphTopologyInUse",
                f"Graph topology {name!r} cannot be updated while graph instances using it are"
                f" active: {', '.join(active)}. Deactivate them first.",
            )
        for instance in users:
            try:
                check_instance_against(self.store.instances[instance], topology)
            except MethodError as error:
                reasons = "; ".join(d.message for d in error.details)
                raise conflict(
                    "GraphTopologyInUse",
                    f"The new graph topology {name!r} does not fit graph instance"
                    f" {instance!r}: {reasons}",
                ) from None

    async def topology_get(self, payload: Json) -> Result:
        name = _name(payload)
        if name not in self.store.topologies:
            raise not_found("graph topology", name)
        return 200, self.store.topologies[name]

    async def topology_list(self, payload: Json) -> Result:
        return 200, {"value": [self.store.topologies[n] for n in sorted(self.store.topologies)]}

    async def topology_delete(self, payload: Json) -> Result:
        name = _name(payload)
        async with self._lock:
            if name not in self.store.topologies:
                return 204, None
            users = self.store.instances_of(name)
            if users:
                raise conflict(
                    "GraphTopologyInUse",
                    f"Graph topology {name!r} is referenced by graph instance(s)"
                    f" {', '.join(users)}; delete them first.",
                )
            del self.store.topologies[name]
            self.store.save()
        return 200, None

    # --- instances ---

    def _plan(self, instance: Json) -> GraphPlan:
        topology_name = instance["properties"]["topologyName"]
        topology = self.store.topologies.get(topology_name)
        if topology is None:
            raise invalid_resource(
                [
                    ErrorDetail(
                        "GraphTopologyNotFound",
                        f"there is no graph topology {topology_name!r}; set it first",
                        "$.properties.topologyName",
                    )
                ]
            )
        check_instance_against(instance, topology)
        try:
            return compile_plan(instance["name"], topology_name, resolve(topology, instance))
        except PlanError as error:
            raise module_validation(
                [ErrorDetail(p.code, p.message, p.target) for p in error.problems]
            ) from None

    def plans(self) -> list[GraphPlan]:
        """The plans of the stored instances that still fit their topologies."""
        found = []
        for instance in self.store.instances.values():
            try:
                found.append(self._plan(instance))
            except MethodError:
                continue
        return found

    def _view(self, name: str) -> Json:
        record = self.store.instances[name]
        return {**record, "properties": {**record["properties"], "state": self.state(name)}}

    async def instance_set(self, payload: Json) -> Result:
        instance = check_instance(payload)
        name = instance["name"]
        async with self._lock:
            existing = self.store.instances.get(name)
            if existing is not None and self.state(name) != INACTIVE:
                raise conflict(
                    "OperationNotAllowedInState",
                    f"Graph instance {name!r} is {self.state(name)}:"
                    " deactivate it before updating it.",
                )
            self._plan(instance)
            now = now_iso()
            created = existing["systemData"]["createdAt"] if existing else now
            instance["properties"]["state"] = INACTIVE
            instance["systemData"] = {"createdAt": created, "lastModifiedAt": now}
            self.store.instances[name] = instance
            self.store.save()
        return (200 if existing else 201), self._view(name)

    async def instance_get(self, payload: Json) -> Result:
        name = _name(payload)
        if name not in self.store.instances:
            raise not_found("graph instance", name)
        return 200, self._view(name)

    async def instance_list(self, payload: Json) -> Result:
        return 200, {"value": [self._view(n) for n in sorted(self.store.instances)]}

    async def instance_activate(self, payload: Json) -> Result:
        name = _name(payload)
        if name in self.store.instances and self.state(name) == DEACTIVATING:
            raise conflict(
                "OperationNotAllowedInState", f"Graph instance {name!r} is deactivating."
            )
        async with self._lock:
            if name not in self.store.instances:
                raise not_found("graph instance", name)
            if self.state(name) == ACTIVE:
                return 200, None
            await self._activate(name)
            self.store.instances[name]["properties"]["state"] = ACTIVE
            self.store.save()
        return 200, None

    async def _activate(self, name: str) -> None:
        run = self.make_run(self._plan(self.store.instances[name]))
        run.on_failure = lambda reason: self._run_failed(name, run, reason)
        problems = run.problems()
        if problems:
            raise MethodError(
                400,
                "ModuleValidationError",
                "The graph cannot be activated.",
                [ErrorDetail("SourceNotFound", p, "$.properties.sources") for p in problems],
            )
        self._transient[name] = ACTIVATING
        try:
            run.start()
            self.runs[name] = run
        finally:
            del self._transient[name]

    async def instance_deactivate(self, payload: Json) -> Result:
        name = _name(payload)
        if name in self.store.instances and self.state(name) == ACTIVATING:
            raise conflict("OperationNotAllowedInState", f"Graph instance {name!r} is activating.")
        async with self._lock:
            if name not in self.store.instances:
                raise not_found("graph instance", name)
            if self.state(name) == INACTIVE:
                return 200, None
            await self._stop(name)
            self.store.instances[name]["properties"]["state"] = INACTIVE
            self.store.save()
        return 200, None

    async def _stop(self, name: str) -> None:
        run = self.runs.pop(name, None)
        if run is None:
            return
        self._transient[name] = DEACTIVATING
        try:
            await run.stop()
        finally:
            del self._transient[name]

    async def instance_delete(self, payload: Json) -> Result:
        name = _name(payload)
        async with self._lock:
            if name not in self.store.instances:
                return 204, None
            if self.state(name) != INACTIVE:
                raise conflict(
                    "OperationNotAllowedInState",
                    f"Graph instance {name!r} is {self.state(name)}:"
                    " deactivate it before deleting it.",
                )
            del self.store.instances[name]
            self.store.save()
        return 200, None

    def _run_failed(self, name: str, run: GraphRun, reason: str) -> None:
        """A graph ended itself (a recording folder it cannot write): it becomes Inactive."""
        task = asyncio.ensure_future(self._end_failed(name, run))
        self._endings.add(task)
        task.add_done_callback(self._endings.discard)

    async def _end_failed(self, name: str, run: GraphRun) -> None:
        async with self._lock:
            if self.runs.get(name) is not run:
                return
            await self._stop(name)
            if name in self.store.instances:
                self.store.instances[name]["properties"]["state"] = INACTIVE
                self.store.save()
        log.warning("graph instance %s is inactive: it could not go on", name)

    async def deliver(self, input_name: str, body: Json) -> int:
        """A message sent to the module's input: to the IoT Hub message sources reading it."""
        delivered = 0
        for run in list(self.runs.values()):
            delivered += await run.deliver(input_name, body)
        return delivered

    # --- the module's life ---

    async def restore(self) -> None:
        """Start again the instances that were active when the simulator stopped."""
        for name in sorted(self.store.instances):
            if self.store.instances[name]["properties"]["state"] != ACTIVE:
                continue
            try:
                async with self._lock:
                    await self._activate(name)
            except MethodError as error:
                log.error("graph instance %s could not be started again: %s", name, error)

    async def shutdown(self) -> None:
        """Stop every running graph; the stored states stay (restore starts them again)."""
        await asyncio.gather(*self._endings, return_exceptions=True)
        for name in list(self.runs):
            await self._stop(name)
