"""The web view's pages, stream and files.

GET  /                               overview: topologies, instances, buttons
POST /instances/{name}/activate      the GraphInstanceActivate direct method
POST /instances/{name}/deactivate    the GraphInstanceDeactivate direct method
GET  /instances/{name}               the live page of one instance
GET  /instances/{name}/live          its server-sent events (?fps= caps the frames)
GET  /instances/{name}/log.json      its kept events (?kind=operational&kind=...)
GET  /recordings                     what the sinks wrote, one entry per MP4 file
GET  /recordings/{key}               a player, with the inference events of that interval
GET  /recordings/{key}/video.mp4     the file (ranges, so the player can seek)
GET  /recordings/{key}/inferences.json
GET  /style.json                     the drawing style (lva_extension.client.annotate)
GET  /static/...                     the pages' scripts and styles
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from .catalogue import Catalogue
from .observatory import Observatory
from .pictures import style_json
from .stream import LiveStream, fps_cap

# A direct method of the module, as the IoT hub front end calls it: (status, payload).
Invoke = Callable[[str, Any], Awaitable[tuple[int, Any]]]

HERE = Path(__file__).parent
STATIC = HERE / "static"
API_VERSION = "2.0"
ACTIONS = {"activate": "GraphInstanceActivate", "deactivate": "GraphInstanceDeactivate"}
EVENT_KINDS = ("inference", "operational", "diagnostic")
RECENT_RECORDINGS = 20  # listed on an instance's page


class Pages:
    def __init__(self, observatory: Observatory, catalogue: Catalogue, invoke: Invoke) -> None:
        self.observatory = observatory
        self.catalogue = catalogue
        self.invoke = invoke
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.get("/", self.overview),
            web.post("/instances/{name}/{action}", self.act),
            web.get("/instances/{name}", self.instance),
            web.get("/instances/{name}/live", self.live),
            web.get("/instances/{name}/log.json", self.log),
            web.get("/recordings", self.recordings),
            web.get("/recordings/{key}", self.recording),
            web.get("/recordings/{key}/video.mp4", self.video),
            web.get("/recordings/{key}/inferences.json", self.recording_inferences),
            web.get("/style.json", self.style),
            web.static("/static", STATIC),
        ]

    def _page(self, template: str, status: int = 200, **context: Any) -> web.Response:
        text = self.templates.get_template(template).render(**context)
        return web.Response(text=text, content_type="text/html", status=status)

    def _not_found(self, what: str) -> web.Response:
        return self._page("missing.html", status=404, what=what)

    async def _call(self, method: str, **payload: Any) -> tuple[int, Any]:
        return await self.invoke(method, {"@apiVersion": API_VERSION, **payload})

    # --- overview and actions ---

    async def overview(self, request: web.Request) -> web.Response:
        _, topologies = await self._call("GraphTopologyList")
        _, instances = await self._call("GraphInstanceList")
        return self._page(
            "overview.html",
            topologies=[_topology_row(t) for t in topologies["value"]],
            instances=[_instance_row(i) for i in instances["value"]],
            recordings=len(self.catalogue.entries()),
        )

    async def act(self, request: web.Request) -> web.Response:
        method = ACTIONS.get(request.match_info["action"])
        if method is None:
            raise web.HTTPNotFound()
        status, payload = await self._call(method, name=request.match_info["name"])
        return web.json_response({"status": status, "payload": payload})

    # --- one instance ---

    async def instance(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        status, found = await self._call("GraphInstanceGet", name=name)
        if status != 200:
            return self._not_found(f"graph instance {name!r}")
        return self._page("instance.html", instance=_instance_row(found), kinds=EVENT_KINDS)

    async def live(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if (await self._call("GraphInstanceGet", name=name))[0] != 200:
            raise web.HTTPNotFound(text=f"no graph instance {name!r}")
        view = self.observatory.instance(name)
        stream = LiveStream(
            self.observatory,
            view,
            fps_cap(request.query.get("fps")),
            lambda: [e.summary() for e in self.catalogue.entries(name)[:RECENT_RECORDINGS]],
        )
        return await stream.serve(request)

    async def log(self, request: web.Request) -> web.Response:
        kinds = set(request.query.getall("kind", EVENT_KINDS))
        view = self.observatory.instances.get(request.match_info["name"])
        events = [asdict(e) for e in (view.events if view else ()) if e.kind in kinds]
        return web.json_response(events)

    # --- recordings ---

    async def recordings(self, request: web.Request) -> web.Response:
        return self._page("recordings.html", entries=self.catalogue.entries())

    async def recording(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        entry = self.catalogue.find(key)
        if entry is None:
            return self._not_found(f"recording {key}")
        timeline = self.catalogue.timeline(entry)
        return self._page("recording.html", entry=entry, kept=timeline is not None)

    async def video(self, request: web.Request) -> web.StreamResponse:
        entry = self.catalogue.find(request.match_info["key"])
        if entry is None or entry.state != "playable":
            raise web.HTTPNotFound()
        return web.FileResponse(entry.file.path, headers={"Content-Type": "video/mp4"})

    async def recording_inferences(self, request: web.Request) -> web.Response:
        entry = self.catalogue.find(request.match_info["key"])
        if entry is None:
            raise web.HTTPNotFound()
        timeline = self.catalogue.timeline(entry)
        return web.json_response(timeline.results if timeline else [])

    async def style(self, request: web.Request) -> web.Response:
        return web.json_response(style_json(), dumps=json.dumps)


def _topology_row(topology: dict[str, Any]) -> dict[str, Any]:
    properties = topology.get("properties", {})
    nodes = [
        f"{node['name']} ({str(node.get('@type', '')).rsplit('.', 1)[-1]})"
        for section in ("sources", "processors", "sinks")
        for node in properties.get(section, [])
    ]
    return {
        "name": topology["name"],
        "description": properties.get("description", ""),
        "nodes": nodes,
    }


def _instance_row(instance: dict[str, Any]) -> dict[str, Any]:
    properties = instance.get("properties", {})
    return {
        "name": instance["name"],
        "topology": properties.get("topologyName", ""),
        "state": properties.get("state", ""),
        "description": properties.get("description", ""),
    }
