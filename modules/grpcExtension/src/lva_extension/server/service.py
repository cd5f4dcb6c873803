"""The LVA MediaGraphExtension service: one Conversation per ProcessMediaStream call."""

from __future__ import annotations

import logging

import grpc

from ..errors import ClientGone, ExtensionError
from ..proto import extension_pb2_grpc
from ..stream.conversation import Conversation
from ..stream.resources import ServerResources

log = logging.getLogger(__name__)


class MediaGraphExtensionService(extension_pb2_grpc.MediaGraphExtensionServicer):
    """The LVA MediaGraphExtension service: one Conversation per call."""

    def __init__(self, resources: ServerResources) -> None:
        self._resources = resources

    async def ProcessMediaStream(
        self, request_iterator: object, context: grpc.aio.ServicerContext
    ) -> None:
        peer = context.peer()
        conversation = Conversation(
            self._resources, peer, context.cancelled, context.add_done_callback
        )
        try:
            await conversation.handle(request_iterator, context.write)  # type: ignore[arg-type]
        except ClientGone:
            return  # nobody to tell; the close line says why the stream ended
        except ExtensionError as error:  # logged by the conversation
            await context.abort(error.status, error.message)
        except Exception:
            # A bug: end only this stream, keep serving the others.
            log.exception("stream from %s failed", peer)
            await context.abort(
                grpc.StatusCode.INTERNAL, "internal error in the extension (see its log)"
            )
