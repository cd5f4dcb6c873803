"""Opening what runs a stream's batches: its processor (here or in a processing
process), or its model of the repository."""

from __future__ import annotations

import asyncio

from ..errors import InvalidArgument
from ..frames import FrameFormat
from ..processors import ProcessorSpec, create_processor
from ..proto import extension_pb2
from ..transports import open_transport
from .choice import ModelRequest
from .model_runner import ModelRunner
from .pipeline import FramePipeline
from .resources import ServerResources
from .runners import BatchRunner, LocalRunner


async def open_runner(
    resources: ServerResources,
    descriptor: extension_pb2.MediaStreamDescriptor,
    choice: ProcessorSpec | ModelRequest,
    fmt: FrameFormat,
) -> BatchRunner:
    if isinstance(choice, ModelRequest):
        return await _model_runner(resources, descriptor, choice, fmt)
    return await _processor_runner(resources, descriptor, choice, fmt)


async def _model_runner(
    resources: ServerResources,
    descriptor: extension_pb2.MediaStreamDescriptor,
    request: ModelRequest,
    fmt: FrameFormat,
) -> BatchRunner:
    # Models of the repository run in this process, whatever processingProcesses
    # says: their batches gather the frames of every stream of this process.
    repository = resources.models
    if repository is None:
        raise InvalidArgument(
            f"extension_configuration asks for {request.label}, but this server has no"
            " model repository (modelRepository)"
        )
    model = await repository.get(request.model)
    model.check_stream_options(request.options)
    settings = resources.settings
    batcher = (
        model.batcher
        if settings.cross_stream_batching
        else model.stream_batcher(settings.in_flight_limit)
    )
    return ModelRunner(
        open_transport(descriptor, resources.shm_limits),
        fmt,
        model,
        batcher,
        request.options,
        resources.executor,
        settings.max_frame_pixels,
        settings.inline_processing_ms / 1000,
    )


async def _processor_runner(
    resources: ServerResources,
    descriptor: extension_pb2.MediaStreamDescriptor,
    spec: ProcessorSpec,
    fmt: FrameFormat,
) -> BatchRunner:
    settings = resources.settings
    if resources.pool is not None:
        return await resources.pool.open(
            descriptor,
            spec,
            fmt,
            resources.rules,
            resources.shm_limits,
            settings.max_frame_pixels,
        )
    transport = open_transport(descriptor, resources.shm_limits)
    try:
        # A processor may load a model: keep that off the event loop.
        processor = await asyncio.get_running_loop().run_in_executor(
            resources.opener or resources.executor, create_processor, spec, resources.rules
        )
    except BaseException:
        transport.close()
        raise
    pipeline = FramePipeline(transport, fmt, processor, spec.name, settings.max_frame_pixels)
    return LocalRunner(pipeline, resources.executor, settings.inline_processing_ms / 1000)
