"""Pipeline steps of the OpenAI-compatible API: what ``pipelines/openai-chat.yaml`` and
``openai-embeddings.yaml`` run. ``/v1`` calls are recorded as runs of those pipelines
(through the kernel's call recorder, ``kernel.pipelines.calls``); running the pipelines
yourself runs these steps."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field

from notewell.kernel.pipelines.step import Step, StepContext
from notewell.plugins.openai_api.schemas import CompletionRequest, EmbeddingRequest, parse
from notewell.plugins.openai_api.service import model_gateway


class CompleteStep(Step):
    """Answer an OpenAI chat completion request (``request``: its JSON body, ``n`` 1),
    streaming ``{"content": …}`` chunks; tools are passed through."""

    name: ClassVar[str] = "openai_api.complete"
    streaming: ClassVar[bool] = True
    idempotent: ClassVar[bool] = False

    class Inputs(BaseModel):
        request: dict[str, Any] = Field(
            description="The body of POST /v1/chat/completions (model, messages, tools…)."
        )

    class Outputs(BaseModel):
        content: str = Field(description="The whole answer.")
        finish_reason: str = Field(description="stop, length, tool_calls…")
        model: str = Field(description="The model that answered.")
        usage: dict[str, int] | None = Field(None, description="Token counts, if reported.")
        tool_calls: list[dict[str, Any]] = Field(
            default_factory=list, description="Tool calls the model asked for."
        )

    async def run(self, inputs: Any, ctx: StepContext) -> Outputs:
        request = parse(CompletionRequest, {**inputs.request, "stream": False})
        stream = await model_gateway(ctx.kernel).stream(ctx.actor, request.upstream())
        async with stream:
            async for delta in stream:
                if delta.content:
                    await ctx.emit({"content": delta.content})
        result = stream.result()
        return self.Outputs(
            content=result.content,
            finish_reason=result.finish_reason,
            model=result.model,
            usage=result.usage.to_dict() if result.usage else None,
            tool_calls=[call.model_dump() for call in result.tool_calls],
        )


class EmbedStep(Step):
    """Embed ``input`` (a text or a list of texts) with ``model`` of the shared list:
    one vector per text, in order."""

    name: ClassVar[str] = "openai_api.embed"

    class Inputs(BaseModel):
        model: str = Field(min_length=1, description="An embedding model of the shared list.")
        input: str | list[str] = Field(description="A text or a list of texts.")

    class Outputs(BaseModel):
        model: str = Field(description="The model that embedded.")
        vectors: list[list[float]] = Field(description="One vector per text, in order.")
        dimension: int = Field(description="The length of each vector.")
        usage: dict[str, int] = Field(description="Token counts.")

    async def run(self, inputs: Any, ctx: StepContext) -> Outputs:
        request = parse(EmbeddingRequest, inputs.model_dump())
        result = await model_gateway(ctx.kernel).embed(ctx.actor, request.model, request.texts())
        answer = result.to_openai()
        return self.Outputs(
            model=result.model,
            vectors=result.vectors,
            dimension=len(result.vectors[0]) if result.vectors else 0,
            usage=answer["usage"],
        )
