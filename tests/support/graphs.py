"""Small LVA 2.0 topologies built node by node, for tests of one node type at a time."""

from __future__ import annotations

from typing import Any

M = "#Microsoft.Media."
Json = dict[str, Any]


def topology(name: str, *nodes: Json, parameters: tuple[str, ...] = ("rtspUrl",)) -> Json:
    sections: dict[str, list[Json]] = {"sources": [], "processors": [], "sinks": []}
    for node in nodes:
        kind = node["@type"]
        section = (
            "sources"
            if kind.endswith("Source")
            else "sinks"
            if kind.endswith("Sink")
            else "processors"
        )
        sections[section].append(node)
    return {
        "@apiVersion": "2.0",
        "name": name,
        "properties": {
            "parameters": [{"name": p, "type": "String"} for p in parameters],
            **sections,
        },
    }


def instance(name: str, topology_name: str, **parameters: str) -> Json:
    return {
        "name": name,
        "properties": {
            "topologyName": topology_name,
            "parameters": [{"name": k, "value": v} for k, v in parameters.items()],
        },
    }


def inputs(*names: str, video: bool = False) -> list[Json]:
    selector = [{"property": "mediaType", "operator": "is", "value": "video"}]
    return [{"nodeName": n, **({"outputSelectors": selector} if video else {})} for n in names]


def rtsp_source(url: str = "${rtspUrl}", username: str = "", password: str = "") -> Json:
    endpoint: Json = {"@type": f"{M}MediaGraphUnsecuredEndpoint", "url": url}
    if username:
        endpoint["credentials"] = {
            "@type": f"{M}MediaGraphUsernamePasswordCredentials",
            "username": username,
            "password": password,
        }
    return {"@type": f"{M}MediaGraphRtspSource", "name": "rtspSource", "endpoint": endpoint}


def hub_source(input_name: str = "recordingTrigger") -> Json:
    return {
        "@type": f"{M}MediaGraphIoTHubMessageSource",
        "name": "hubSource",
        "hubInputName": input_name,
    }


def motion(**properties: str) -> Json:
    return {
        "@type": f"{M}MediaGraphMotionDetectionProcessor",
        "name": "motionDetection",
        "sensitivity": "medium",
        **properties,
        "inputs": inputs("rtspSource", video=True),
    }


def gate(*events: str, minimum: str = "PT1S", maximum: str = "PT1S", offset: str = "PT0S") -> Json:
    return {
        "@type": f"{M}MediaGraphSignalGateProcessor",
        "name": "signalGate",
        "activationEvaluationWindow": "PT1S",
        "activationSignalOffset": offset,
        "minimumActivationTime": minimum,
        "maximumActivationTime": maximum,
        "inputs": inputs(*events) + inputs("rtspSource", video=True),
    }


def file_sink(
    base: str, pattern: str, maximum_mib: str = "100", source: str = "signalGate"
) -> Json:
    return {
        "@type": f"{M}MediaGraphFileSink",
        "name": "fileSink",
        "baseDirectoryPath": base,
        "fileNamePattern": pattern,
        "maximumSizeMiB": maximum_mib,
        "inputs": inputs(source),
    }


def asset_sink(
    pattern: str, source: str = "rtspSource", segment: str = "PT30S", cache_mib: str = "100"
) -> Json:
    return {
        "@type": f"{M}MediaGraphAssetSink",
        "name": "assetSink",
        "assetNamePattern": pattern,
        "segmentLength": segment,
        "localMediaCachePath": "/var/lib/azuremediaservices/tmp/",
        "localMediaCacheMaximumSizeMiB": cache_mib,
        "inputs": inputs(source),
    }


def hub_sink(*sources: str, output: str = "inferenceOutput") -> Json:
    return {
        "@type": f"{M}MediaGraphIoTHubMessageSink",
        "name": "hubSink",
        "hubOutputName": output,
        "inputs": inputs(*sources),
    }


def http_extension(url: str, image_format: str = "Jpeg", **extra: Any) -> Json:
    return {
        "@type": f"{M}MediaGraphHttpExtension",
        "name": "httpExtension",
        "endpoint": {"@type": f"{M}MediaGraphUnsecuredEndpoint", "url": url},
        "image": {
            "scale": {"mode": "Pad", "width": "64", "height": "64"},
            "format": {"@type": f"{M}MediaGraphImageFormat{image_format}"},
        },
        **extra,
        "inputs": inputs("rtspSource", video=True),
    }


def grpc_extension(
    url: str, source: str = "rtspSource", image_format: Json | None = None, **scale: str
) -> Json:
    """A gRPC extension node on ``source``, embedded transfer; ``scale``: mode, width, height."""
    return {
        "@type": f"{M}MediaGraphGrpcExtension",
        "name": "grpcExtension",
        "endpoint": {"@type": f"{M}MediaGraphUnsecuredEndpoint", "url": url},
        "dataTransfer": {"mode": "Embedded"},
        "image": {
            "scale": scale or {"mode": "Stretch", "width": "64", "height": "48"},
            "format": image_format
            or {"@type": f"{M}MediaGraphImageFormatRaw", "pixelFormat": "rgb24"},
        },
        "inputs": inputs(source),
    }
