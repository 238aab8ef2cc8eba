"""Pipeline steps of the chat plugin.

- ``chat.reply``: one model's answer to a conversation, streamed: each piece goes at
  once to the live answer (its HTTP listeners and ``chat.message_chunk`` on the bus),
  and to the run's watchers (``run.chunk``) batched, at most every
  ``run_chunk_interval_s`` (a chat's tabs would otherwise get every token twice). Runs
  inline: it waits on the network (or on a worker thread for the embedded model), never
  on the CPU.
- ``chat.clean_title``: a model's suggested title made fit for a chat list.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from notewell.kernel.errors import NotewellError
from notewell.kernel.pipelines import Step, StepContext, TextBatches
from notewell.plugins.chat.targets import model_gateway

_QUOTES = "\"'`*#\u201c\u201d\u2018\u2019"
_LABEL = re.compile(r"^(title|chat title)\s*:\s*", re.IGNORECASE)


class ReplyStep(Step):
    """Answer ``messages`` (OpenAI-shaped) with ``model``, streaming ``{"content": …}``
    chunks; ``message_id`` names the chat message being written, when there is one.
    Upstream errors fail the step with their code (``upstream_timeout``,
    ``upstream_stream_broken``, ``model_not_found``…); the text streamed before a
    failure stays on the chat message."""

    name: ClassVar[str] = "chat.reply"
    streaming: ClassVar[bool] = True
    idempotent: ClassVar[bool] = False

    class Inputs(BaseModel):
        model: str = Field(min_length=1, description="A model id of the shared list.")
        messages: list[dict[str, Any]] = Field(
            min_length=1, description="The conversation, OpenAI-shaped ({role, content})."
        )
        params: dict[str, Any] = Field(
            default_factory=dict,
            description="temperature, top_p, max_tokens, seed, stop, tools, tool_choice.",
        )
        message_id: str | None = Field(
            None, description="The chat answer being written; its tabs get each piece."
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
        from notewell.plugins.chat.state import state_of

        state = state_of(ctx.kernel)
        generations = state.generations
        live = generations.live.get(inputs.message_id) if inputs.message_id else None
        request = {**inputs.params, "model": inputs.model, "messages": inputs.messages}
        viewers = TextBatches(
            lambda text: ctx.emit({"content": text}), state.settings.run_chunk_interval_s
        )
        try:
            stream = await model_gateway(ctx.kernel).stream(ctx.actor, request)
            async with stream:
                async for delta in stream:
                    if delta.content:
                        if live is not None:
                            await generations.push(live, delta.content)
                        viewers.add(delta.content)
                        await viewers.send_due()
        except NotewellError as exc:
            if live is not None:
                live.error = {"code": exc.code, "message": exc.message, "status": exc.status}
            raise
        finally:
            await viewers.flush()
        result = stream.result()
        return self.Outputs(
            content=result.content,
            finish_reason=result.finish_reason,
            model=inputs.model,
            usage=result.usage.to_dict() if result.usage is not None else None,
            tool_calls=[call.model_dump() for call in result.tool_calls],
        )


class CleanTitleStep(Step):
    """Make a model's suggested title fit a chat list: its first line, without quotes,
    a ``Title:`` label or a trailing full stop, at most ``max_length`` characters;
    ``fallback`` (cut the same way) when nothing is left."""

    name: ClassVar[str] = "chat.clean_title"

    class Inputs(BaseModel):
        text: str = Field("", description="The model's suggestion.")
        fallback: str = Field("", description="Used when nothing is left of the suggestion.")
        max_length: int = Field(60, ge=8, le=200, description="Longest title, in characters.")

    class Outputs(BaseModel):
        title: str = Field(description="The title.")

    async def run(self, inputs: Any, ctx: StepContext) -> Outputs:
        title = clean_title(inputs.text, inputs.max_length) or clean_title(
            inputs.fallback, inputs.max_length
        )
        return self.Outputs(title=title or "New chat")


def clean_title(text: str, max_length: int) -> str:
    """The first non-empty line of ``text``, tidied and cut at a word."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    line = _LABEL.sub("", line).strip(_QUOTES + " ").rstrip(".")
    line = " ".join(line.split())
    if len(line) > max_length:
        line = line[:max_length].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
    return line
