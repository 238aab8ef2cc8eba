"""The embedded local models as a provider: the default when no connection exists.

Generation and embedding run in a worker thread (llama.cpp and onnxruntime release the
GIL while they compute), and tokens come back through an asyncio queue, so the event
loop never waits on them. Closing the stream stops generation after the current token.
Pipelines use the ``providers.generate`` / ``providers.embed`` steps instead, which the
kernel runs in its worker pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from notewell.plugins.providers import local
from notewell.plugins.providers.errors import ModelNotSupported, UpstreamModelNotFound
from notewell.plugins.providers.interface import (
    ChatDelta,
    ChatRequest,
    EmbeddingResult,
    ModelInfo,
    Provider,
    Usage,
)
from notewell.plugins.providers.settings import ProvidersSettings

_DONE = object()


class LocalProvider(Provider):
    """SmolLM2-135M-Instruct for chat and all-MiniLM-L6-v2 for embeddings, offline."""

    type = "local"
    label = "Embedded local models"

    def __init__(self, settings: ProvidersSettings, name: str = "local") -> None:
        self.name = name
        self.settings = settings

    async def list_models(self) -> list[ModelInfo]:
        """The local models whose packages are installed (checked without loading them)."""
        models = []
        if local.available(local.CHAT_MODEL_ID):
            models.append(
                ModelInfo(
                    id=local.CHAT_MODEL_ID,
                    name="SmolLM2 135M Instruct (local)",
                    capabilities=("chat",),
                    context_length=self.settings.local_context_length,
                    owned_by="local",
                )
            )
        if local.available(local.EMBED_MODEL_ID):
            models.append(
                ModelInfo(
                    id=local.EMBED_MODEL_ID,
                    name="all-MiniLM-L6-v2 (local)",
                    capabilities=("embeddings",),
                    context_length=local.EMBED_MAX_TOKENS,
                    owned_by="local",
                )
            )
        return models

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        if request.model != local.CHAT_MODEL_ID:
            raise UpstreamModelNotFound(
                f"No local chat model {request.model!r}.", connection=self.name
            )
        if request.tools:
            raise ModelNotSupported(f"{request.model} cannot call tools.")
        model = local.chat_model_for(self.settings)
        messages = [{"role": m.role, "content": m.text()} for m in request.messages]
        sampling = sampling_of(request)
        async for delta in in_thread(lambda stop: model.stream(messages, sampling, stop)):
            yield delta

    async def embed(self, model: str, texts: list[str]) -> EmbeddingResult:
        if model != local.EMBED_MODEL_ID:
            raise UpstreamModelNotFound(
                f"No local embeddings model {model!r}.", connection=self.name
            )
        embedder = local.embedder_for(self.settings)
        vectors, tokens = await asyncio.to_thread(embedder.embed, texts)
        return EmbeddingResult(model, vectors, Usage(tokens, 0))


def sampling_of(request: ChatRequest) -> local.Sampling:
    """The request's parameters, with the local model's defaults for those left out."""
    return local.Sampling(
        temperature=local.DEFAULT_TEMPERATURE
        if request.temperature is None
        else request.temperature,
        top_p=request.top_p or 0.95,
        max_tokens=request.max_tokens or local.DEFAULT_MAX_TOKENS,
        seed=request.seed,
        stop=tuple(request.stop or ()),
        repeat_penalty=float(request.options.get("repeat_penalty", local.DEFAULT_REPEAT_PENALTY)),
    )


async def in_thread(
    start: Callable[[threading.Event], Iterator[Any]],
) -> AsyncIterator[Any]:
    """Run the iterator ``start(stop_event)`` in a thread; yield its items on this loop.

    Leaving early sets the stop event, so the thread ends after its current item.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()

    def work() -> None:
        try:
            with contextlib.closing(start(stop)) as items:  # type: ignore[type-var]
                for item in items:
                    loop.call_soon_threadsafe(queue.put_nowait, item)
                    if stop.is_set():
                        break
        except BaseException as exc:  # handed to the consumer, which re-raises it
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, _DONE)

    worker = loop.run_in_executor(None, work)
    try:
        while (item := await queue.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        await asyncio.shield(worker)
