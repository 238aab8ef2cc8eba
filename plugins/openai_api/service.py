"""The OpenAI-compatible calls: the hot path of every API client.

Per call: the model gateway (found through the providers plugin's hook, never
imported), one upstream request, the response in OpenAI's shape, and the run record
(the kernel's call recorder, ``kernel.pipelines.calls``: queued in memory). Nothing
here reads settings or permissions from the database: the actor comes from auth's
in-memory cache, the model list from the gateway's, and these settings were read once
at start-up.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

from notewell.kernel.actor import Actor
from notewell.kernel.errors import NotewellError, ServiceUnavailable
from notewell.kernel.events import Event
from notewell.kernel.pipelines import Call, CallPipeline, TextBatches
from notewell.plugins.openai_api.render import error_body
from notewell.plugins.openai_api.schemas import CompletionRequest, EmbeddingRequest, InvalidRequest
from notewell.plugins.openai_api.settings import OpenAIApiSettings

log = logging.getLogger("notewell.openai_api")

DONE = b"data: [DONE]\n\n"


def model_gateway(kernel: Any) -> Any:
    """The model gateway (providers plugin), or 503 ``no_model_provider``."""
    gateway = None
    if hasattr(kernel.plugins.pm.hook, "model_gateway_from_kernel"):
        gateway = kernel.plugins.first("model_gateway_from_kernel", kernel=kernel)
    if gateway is None:
        raise ServiceUnavailable(
            "No model provider is enabled on this server.", code="no_model_provider"
        )
    return gateway


def failure(exc: Exception, step_id: str) -> dict[str, Any]:
    """The ``error`` of a run record for ``exc`` (an unexpected one is named, not quoted:
    its message is not meant for users)."""
    if isinstance(exc, NotewellError):
        code, message = exc.code, exc.message
    else:
        code, message = "internal_error", "The call failed unexpectedly."
    return {"code": code, "message": message, "step_id": step_id, "type": type(exc).__name__}


class OpenAIService:
    """Answers ``/v1`` calls and records each as a run."""

    def __init__(self, kernel: Any, settings: OpenAIApiSettings) -> None:
        self.kernel = kernel
        self.settings = settings
        self.pipelines: dict[str, CallPipeline] = {}
        """The pipelines calls are recorded as, by kind (none: calls are not recorded)."""
        self._closing: set[asyncio.Task[Any]] = set()

    def _begin(self, kind: str, inputs: Any, actor: Actor) -> Call | None:
        pipeline = self.pipelines.get(kind)
        if pipeline is None:
            return None
        call: Call = self.kernel.pipelines.calls.begin(pipeline, inputs, actor)
        return call

    def _end(self, ticket: Call | None, **values: Any) -> None:
        if ticket is not None:
            self.kernel.pipelines.calls.end(ticket, **values)

    # -- models --------------------------------------------------------------------------

    async def models(self, actor: Actor) -> dict[str, Any]:
        entries = await model_gateway(self.kernel).list_models(actor)
        return {"object": "list", "data": [entry.to_openai() for entry in entries]}

    # -- chat completions ----------------------------------------------------------------

    async def complete(
        self, actor: Actor, request: CompletionRequest, body: dict[str, Any]
    ) -> dict[str, Any]:
        """A whole completion."""
        self._check(request)
        ticket = self._begin("chat", {"request": body}, actor)
        try:
            result = await model_gateway(self.kernel).chat(actor, request.upstream())
            answer = result.to_openai(id=f"chatcmpl-{ticket.id if ticket else _fresh()}")
        except asyncio.CancelledError:  # the client went away: the upstream call is cancelled
            self._end(ticket, status="cancelled", error=_gone())
            raise
        except Exception as exc:  # whatever it was, the record says the call failed
            self._end(ticket, status="failed", error=failure(exc, "complete"))
            raise
        message = answer["choices"][0]["message"]
        self._end(
            ticket,
            status="succeeded",
            outputs={
                "content": result.content,
                "finish_reason": result.finish_reason,
                "model": result.model,
                "usage": answer["usage"],
                "tool_calls": message.get("tool_calls") or [],
            },
        )
        return answer

    async def stream(
        self, actor: Actor, request: CompletionRequest, body: dict[str, Any]
    ) -> AsyncIterator[bytes]:
        """A streamed completion. Errors before the first piece are raised here (an
        HTTP error); later ones end the stream with an ``error`` event."""
        self._check(request)
        ticket = self._begin("chat", {"request": body}, actor)
        try:
            stream = await model_gateway(self.kernel).stream(actor, request.upstream())
            first = await anext(stream, None)
        except asyncio.CancelledError:
            self._end(ticket, status="cancelled", error=_gone())
            raise
        except Exception as exc:
            self._end(ticket, status="failed", error=failure(exc, "complete"))
            raise
        usage = bool(request.stream_options and request.stream_options.include_usage)
        if ticket is not None:
            self._end_when_abandoned(ticket, stream)
        return self._events(stream, first, ticket, request.model, usage)

    def _end_when_abandoned(self, ticket: Call, stream: Any) -> None:
        """If the request ends before its stream is read at all (the client left before
        the first byte), the events' own clean-up never runs: end the call here, as
        cancelled, and close the upstream stream. After a read, this changes nothing."""
        task = asyncio.current_task()
        if task is None:
            return

        def abandoned(_: asyncio.Task[Any]) -> None:
            if ticket.ended:
                return
            self._end(ticket, status="cancelled", error=_gone())
            closing = asyncio.get_running_loop().create_task(stream.aclose())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)

        task.add_done_callback(abandoned)

    async def _events(
        self, stream: Any, first: Any, ticket: Call | None, model: str, usage: bool
    ) -> AsyncIterator[bytes]:
        """The stream's events. A reader task drains the upstream into a queue, and each
        write sends every piece that has arrived meanwhile: one write per burst, not per
        token (a fast upstream's 256 tokens cost a few writes), and still no waiting."""
        completion_id = f"chatcmpl-{ticket.id if ticket else _fresh()}"
        head = (
            f'{{"id":"{completion_id}","object":"chat.completion.chunk",'
            f'"created":{int(time.time())},"model":{json.dumps(model)},'
        ).encode()
        status, error = "cancelled", _gone()
        chunks = ChunkEvents(self.kernel, ticket, self.settings.chunk_events_s)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        reader = asyncio.get_running_loop().create_task(_pump(stream, queue))
        out = [_chunk(head, b'{"role":"assistant","content":""}', None)]
        try:
            if first is None:
                queue.put_nowait(_END)
            else:  # the first token goes out at once, whatever follows it
                out.append(_piece(head, first))
                chunks.add(first.content)
                yield b"".join(out)
                out = []
            while True:
                items = [await queue.get()]
                while not queue.empty():
                    items.append(queue.get_nowait())
                for item in items:
                    if item is _END:
                        if usage:
                            totals = stream.result().usage
                            out.append(
                                b"data: "
                                + head
                                + b'"choices":[],"usage":'
                                + json.dumps(totals.to_dict() if totals else None).encode()
                                + b"}\n\n"
                            )
                        out.append(DONE)
                        status, error = "succeeded", None
                    elif isinstance(item, NotewellError):
                        status, error = "failed", failure(item, "complete")
                        out.append(b"data: " + json.dumps(error_body(item)).encode() + b"\n\n")
                    else:
                        out.append(_piece(head, item))
                        if item.content:
                            chunks.add(item.content)
                yield b"".join(out)
                out = []
                await chunks.publish_due()
                if status != "cancelled":
                    break
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await stream.aclose()
            await chunks.flush()
            result = stream.result()
            self._end(
                ticket,
                status=status,
                error=error,
                outputs={
                    "content": result.content,
                    "finish_reason": result.finish_reason,
                    "model": result.model,
                    "usage": result.usage.to_dict() if result.usage else None,
                    "tool_calls": [call.model_dump() for call in result.tool_calls],
                },
            )

    @staticmethod
    def _check(request: CompletionRequest) -> None:
        if request.n != 1:
            raise InvalidRequest(
                "Only n=1 is supported: ask again for another answer.",
                code="unsupported_value",
                param="n",
            )

    # -- embeddings ----------------------------------------------------------------------

    async def embed(
        self, actor: Actor, request: EmbeddingRequest, body: dict[str, Any]
    ) -> dict[str, Any]:
        texts = request.texts()
        ticket = self._begin("embeddings", {"model": request.model, "input": request.input}, actor)
        try:
            result = await model_gateway(self.kernel).embed(actor, request.model, texts)
        except asyncio.CancelledError:
            self._end(ticket, status="cancelled", error=_gone())
            raise
        except Exception as exc:
            self._end(ticket, status="failed", error=failure(exc, "embed"))
            raise
        answer: dict[str, Any] = result.to_openai()
        if request.encoding_format == "base64":
            for item in answer["data"]:
                vector = item["embedding"]
                packed = struct.pack(f"<{len(vector)}f", *vector)
                item["embedding"] = base64.b64encode(packed).decode()
        self._end(
            ticket,
            status="succeeded",
            outputs={
                "model": result.model,
                "count": len(result.vectors),
                "dimension": len(result.vectors[0]) if result.vectors else 0,
                "usage": answer["usage"],
            },
        )
        return answer


class ChunkEvents:
    """A streamed answer's text for run viewers: ``run.chunk`` events on the bus, batched
    (:class:`TextBatches`: at most one per ``interval`` seconds); none when ``interval``
    is 0 or the call is not recorded."""

    def __init__(self, kernel: Any, ticket: Call | None, interval: float) -> None:
        self.kernel = kernel
        self.ticket = ticket
        self.wanted = ticket is not None and interval > 0
        self.batches = TextBatches(self._publish, interval)
        self.seq = 0

    def add(self, text: str) -> None:
        if self.wanted:
            self.batches.add(text)

    async def publish_due(self) -> None:
        await self.batches.send_due()

    async def flush(self) -> None:
        await self.batches.flush()

    async def _publish(self, text: str) -> None:
        assert self.ticket is not None  # nothing is gathered for an unrecorded call
        self.seq += 1
        data = {
            "run_id": self.ticket.id,
            "step_id": self.ticket.pipeline.step_id,
            "seq": self.seq,
            "chunk": {"content": text},
        }
        await self.kernel.bus.publish(Event("run.chunk", data, user_id=self.ticket.actor.id))


_END = object()


async def _pump(stream: Any, queue: asyncio.Queue[Any]) -> None:
    """Move the upstream's deltas into ``queue``, then ``_END`` (or the error: anything
    but a NotewellError, a bug, is logged and ends the stream as an internal error)."""
    try:
        async for delta in stream:
            queue.put_nowait(delta)
        queue.put_nowait(_END)
    except NotewellError as exc:
        queue.put_nowait(exc)
    except Exception:
        log.exception("a /v1 stream failed unexpectedly")
        queue.put_nowait(NotewellError("The stream failed unexpectedly."))


def _chunk(head: bytes, delta: bytes, finish: str | None) -> bytes:
    reason = b"null" if finish is None else json.dumps(finish).encode()
    return (
        b"data: "
        + head
        + b'"choices":[{"index":0,"delta":'
        + delta
        + b',"finish_reason":'
        + reason
        + b"}]}\n\n"
    )


def _piece(head: bytes, delta: Any) -> bytes:
    if delta.content and not delta.tool_calls:  # the common case, encoded cheaply
        return _chunk(
            head, b'{"content":' + json.dumps(delta.content).encode() + b"}", delta.finish_reason
        )
    payload: dict[str, Any] = {}
    if delta.content:
        payload["content"] = delta.content
    if delta.tool_calls:
        payload["tool_calls"] = [call.to_openai() for call in delta.tool_calls]
    return _chunk(head, json.dumps(payload).encode(), delta.finish_reason)


def _gone() -> dict[str, Any]:
    return {"code": "client_disconnected", "message": "the client went away", "step_id": None}


def _fresh() -> str:
    from notewell.kernel.ids import new_id

    return new_id()
