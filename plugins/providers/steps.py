"""Pipeline steps of the providers plugin.

- ``providers.generate``: the embedded local chat model, token by token (heavy: the
  kernel runs it in its worker pool).
- ``providers.embed``: the embedded local embedding model (heavy).
- ``providers.chat``: any model of the shared list, through the gateway (inline: it
  only waits on the network, or on a worker thread for the local model).

Streaming steps emit ``{"content": "<text>"}`` chunks (and ``{"tool_calls": [...]}``
for tool-call fragments) through ``ctx.emit``.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from notewell.kernel.pipelines.step import Step, StepContext
from notewell.plugins.providers import local
from notewell.plugins.providers.adapters.local import in_thread, sampling_of
from notewell.plugins.providers.interface import ChatDelta, ChatRequest, Message, Usage
from notewell.plugins.providers.settings import ProvidersSettings


class TokenUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ChatInputs(BaseModel):
    """A chat request, as pipelines pass it."""

    messages: list[Message] = Field(min_length=1)
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1)
    seed: int | None = None
    stop: list[str] | None = None


class ChatOutputs(BaseModel):
    """The whole answer."""

    content: str
    finish_reason: str
    model: str
    usage: TokenUsage
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)


def chunk_of(delta: ChatDelta) -> dict[str, Any] | None:
    """What a streaming step emits for ``delta`` (``None``: nothing to show)."""
    if delta.tool_calls:
        return {"tool_calls": [call.to_openai() for call in delta.tool_calls]}
    return {"content": delta.content} if delta.content else None


@functools.cache
def worker_settings() -> ProvidersSettings:
    """The providers plugin's settings in a worker process (which has no kernel): read
    from the environment and config file once, like the models they configure."""
    return ProvidersSettings.from_environment()


def chat_model() -> local.LocalChat:
    """The local chat model as the providers plugin's settings configure it."""
    return local.chat_model_for(worker_settings())


def embedder() -> Any:
    """The local embedder as the providers plugin's settings configure it."""
    return local.embedder_for(worker_settings())


class GenerateStep(Step):
    """Answer with the embedded local chat model (SmolLM2-135M-Instruct), streaming each
    token as a ``{"content": ...}`` chunk. Runs in the worker pool."""

    name: ClassVar[str] = "providers.generate"
    heavy: ClassVar[bool] = True
    streaming: ClassVar[bool] = True

    class Inputs(ChatInputs):
        model: str = local.CHAT_MODEL_ID

    Outputs = ChatOutputs

    async def warm_up(self) -> None:
        """Load the GGUF once per worker process."""
        await in_thread_call(chat_model().load)

    async def run(self, inputs: Any, ctx: StepContext) -> ChatOutputs:
        request = ChatRequest(
            model=inputs.model,
            messages=inputs.messages,
            temperature=inputs.temperature,
            max_tokens=inputs.max_tokens,
            seed=inputs.seed,
            stop=inputs.stop,
        )
        model = chat_model()
        messages = [{"role": m.role, "content": m.text()} for m in request.messages]
        sampling = sampling_of(request)
        text, last = "", ChatDelta()
        stream = in_thread(lambda stop: model.stream(messages, sampling, stop))
        try:
            async for delta in stream:
                ctx.check_cancelled()
                text += delta.content
                last = delta
                if (chunk := chunk_of(delta)) is not None:
                    await ctx.emit(chunk)
        finally:
            await stream.aclose()
        usage = last.usage or Usage()
        return ChatOutputs(
            content=text,
            finish_reason=last.finish_reason or "stop",
            model=inputs.model,
            usage=TokenUsage(
                prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens
            ),
        )


class EmbedStep(Step):
    """Embed texts with the embedded local model (all-MiniLM-L6-v2): unit vectors of 384
    numbers, in the order of the texts. Runs in the worker pool."""

    name: ClassVar[str] = "providers.embed"
    heavy: ClassVar[bool] = True

    class Inputs(BaseModel):
        texts: list[str] = Field(min_length=1)
        model: str = local.EMBED_MODEL_ID

    class Outputs(BaseModel):
        vectors: list[list[float]]
        model: str
        dimension: int
        prompt_tokens: int

    async def warm_up(self) -> None:
        """Load the embedding model once per worker process."""
        await in_thread_call(embedder().load)

    async def run(self, inputs: Any, ctx: StepContext) -> Any:
        vectors, tokens = await in_thread_call(embedder().embed, inputs.texts)
        return self.Outputs(
            vectors=vectors, model=inputs.model, dimension=len(vectors[0]), prompt_tokens=tokens
        )


class ChatStep(Step):
    """Answer with any model of the shared list (a connection's or the local one),
    streaming ``{"content": ...}`` chunks. Needs the server (runs inline)."""

    name: ClassVar[str] = "providers.chat"
    streaming: ClassVar[bool] = True
    idempotent: ClassVar[bool] = False

    class Inputs(ChatInputs):
        model: str
        tools: list[dict[str, Any]] | None = None

    Outputs = ChatOutputs

    async def run(self, inputs: Any, ctx: StepContext) -> ChatOutputs:
        from notewell.plugins.providers.gateway import gateway_of

        gateway = gateway_of(ctx.kernel)
        stream = await gateway.stream(ctx.actor, ChatRequest(**inputs.model_dump()))
        async with stream:
            async for delta in stream:
                ctx.check_cancelled()
                if (chunk := chunk_of(delta)) is not None:
                    await ctx.emit(chunk)
        result = stream.result()
        usage = result.usage or Usage()
        return ChatOutputs(
            content=result.content,
            finish_reason=result.finish_reason,
            model=inputs.model,
            usage=TokenUsage(
                prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens
            ),
            tool_calls=[call.model_dump() for call in result.tool_calls],
        )


async def in_thread_call(function: Any, *args: Any) -> Any:
    """Call a blocking function in a thread, so that the event loop stays free."""
    return await asyncio.to_thread(function, *args)
