"""The chat API: chats, their message trees, and answers (``/api/v1/chats``).

Answers stream as Server-Sent Events (see :mod:`streams`) when ``stream`` is true.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, Field
from quart import Blueprint, Response
from quart_schema import validate_querystring, validate_request

from notewell.kernel import policy
from notewell.kernel.app import current_kernel
from notewell.kernel.errors import Conflict, error_for_status
from notewell.kernel.http import current_actor
from notewell.plugins.chat import streams
from notewell.plugins.chat.generation import Chunk, Done
from notewell.plugins.chat.schemas import (
    ChatCreate,
    ChatUpdate,
    CurrentUpdate,
    MessageCreate,
    Regenerate,
    SendResult,
)
from notewell.plugins.chat.state import ChatState, state_of
from notewell.plugins.chat.turns import Turn

bp = Blueprint("chat", __name__, url_prefix="/api/v1/chats")

F = TypeVar("F", bound=Callable[..., Any])
RATE_LIMIT_ATTRIBUTE = "__notewell_rate_limit__"


def rate_class(name: str) -> Callable[[F], F]:
    """Count the route in the rate limiter's class ``name`` (read by the ratelimit plugin)."""

    def mark(view: F) -> F:
        setattr(view, RATE_LIMIT_ATTRIBUTE, name)
        return view

    return mark


def chat_state() -> ChatState:
    return state_of(current_kernel())


def event_stream(body: AsyncIterator[bytes]) -> Response:
    """A Server-Sent Events response that no proxy buffers and no timeout cuts."""
    response = Response(body, content_type="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    response.timeout = None  # an answer may take longer than Quart's default 60 s
    return response


class ChatQuery(BaseModel):
    """Filters of the chat list."""

    archived: bool = False
    pinned: bool | None = None
    folder_id: str | None = None
    tag: str | None = None
    q: str | None = Field(None, max_length=200, description="Part of the title.")
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


class PageQuery(BaseModel):
    cursor: str | None = None
    limit: int = Field(200, ge=1, le=500)


@bp.get("")
@policy.user
@validate_querystring(ChatQuery)
async def list_chats(query_args: ChatQuery) -> dict[str, Any]:
    """The caller's chats, most recently active first (``next_cursor`` pages on)."""
    page = await chat_state().chats.page(
        current_actor(),
        archived=query_args.archived,
        pinned=query_args.pinned,
        folder_id=query_args.folder_id,
        tag=query_args.tag,
        title=query_args.q,
        cursor=query_args.cursor,
        limit=query_args.limit,
    )
    return page.model_dump(mode="json")


@bp.post("")
@policy.user
@validate_request(ChatCreate)
async def create_chat(data: ChatCreate) -> tuple[dict[str, Any], int]:
    """A new, empty chat."""
    chat = await chat_state().chats.create(current_actor(), data)
    return chat.model_dump(mode="json"), 201


@bp.get("/<chat_id>")
@policy.user
async def read_chat(chat_id: str) -> dict[str, Any]:
    """The chat with the branch on show (each message lists its siblings' ids)."""
    return (await chat_state().threads.thread(current_actor(), chat_id)).model_dump(mode="json")


@bp.patch("/<chat_id>")
@policy.user
@validate_request(ChatUpdate)
async def update_chat(chat_id: str, data: ChatUpdate) -> dict[str, Any]:
    """Rename, file, tag, pin, archive, or change the chat's models and system prompt."""
    chat = await chat_state().chats.update(current_actor(), chat_id, data)
    return chat.model_dump(mode="json")


@bp.delete("/<chat_id>")
@policy.user
async def delete_chat(chat_id: str) -> tuple[str, int]:
    """Delete the chat with all its messages and its share link (answers still being
    written are stopped)."""
    state = chat_state()
    await state.chats.delete(current_actor(), chat_id)
    for live in [
        live for live in state.generations.live.values() if live.message.chat_id == chat_id
    ]:
        await state.generations.stop(live, wait=0)
    return "", 204


@bp.put("/<chat_id>/current")
@policy.user
@validate_request(CurrentUpdate)
async def switch_branch(chat_id: str, data: CurrentUpdate) -> dict[str, Any]:
    """Show the branch through ``message_id`` (down to its newest leaf)."""
    detail = await chat_state().threads.switch(current_actor(), chat_id, data.message_id)
    return detail.model_dump(mode="json")


@bp.get("/<chat_id>/messages")
@policy.user
@validate_querystring(PageQuery)
async def list_messages(chat_id: str, query_args: PageQuery) -> dict[str, Any]:
    """Every message of every branch, oldest first."""
    page = await chat_state().threads.messages(
        current_actor(), chat_id, cursor=query_args.cursor, limit=query_args.limit
    )
    return page.model_dump(mode="json")


@bp.post("/<chat_id>/messages")
@policy.user
@rate_class("generation")
@validate_request(MessageCreate)
async def send_message(chat_id: str, data: MessageCreate) -> Any:
    """Send a message; each model's answer is generated by the server (SSE if ``stream``)."""
    state = chat_state()
    turn = await state.turns.send(current_actor(), chat_id, data)
    return await _answer(state, turn, data.stream)


@bp.get("/<chat_id>/messages/<message_id>")
@policy.user
async def read_message(chat_id: str, message_id: str) -> dict[str, Any]:
    """One message, as saved (an answer still streaming shows its last checkpoint)."""
    message = await chat_state().threads.message(current_actor(), chat_id, message_id)
    return message.model_dump(mode="json")


@bp.delete("/<chat_id>/messages/<message_id>")
@policy.user
async def delete_message(chat_id: str, message_id: str) -> dict[str, Any]:
    """Delete a message and every reply under it; returns the chat as it now shows."""
    detail = await chat_state().threads.delete(current_actor(), chat_id, message_id)
    return detail.model_dump(mode="json")


@bp.post("/<chat_id>/messages/<message_id>/regenerate")
@policy.user
@rate_class("generation")
@validate_request(Regenerate)
async def regenerate(chat_id: str, message_id: str, data: Regenerate) -> Any:
    """Another answer beside an answer (or under a user message): a new branch."""
    state = chat_state()
    turn = await state.turns.regenerate(current_actor(), chat_id, message_id, data)
    return await _answer(state, turn, data.stream)


@bp.get("/<chat_id>/messages/<message_id>/stream")
@policy.user
async def follow_message(chat_id: str, message_id: str) -> Response:
    """Re-attach to an answer: what it has so far, then each new chunk until it ends."""
    body = await streams.follow(
        chat_state(), current_kernel(), current_actor(), chat_id, message_id
    )
    return event_stream(body)


@bp.post("/<chat_id>/messages/<message_id>/stop")
@policy.user
async def stop_message(chat_id: str, message_id: str) -> tuple[dict[str, Any], int]:
    """Stop an answer (the only thing that cancels the upstream request); the text
    written so far is kept, with status ``stopped``."""
    state, actor = chat_state(), current_actor()
    message = await state.threads.message(actor, chat_id, message_id)
    live = state.generations.live.get(message_id)
    if live is not None:
        final = await state.generations.stop(live)
        if final is not None:
            return final.model_dump(mode="json"), 200
        return message.model_dump(mode="json"), 202
    if message.status != "streaming" or message.run_id is None:
        raise Conflict("This answer is not being written.", code="message_not_streaming")
    await current_kernel().pipelines.cancel(message.run_id, actor)  # on another replica
    return message.model_dump(mode="json"), 202


async def _answer(state: ChatState, turn: Turn, stream: bool) -> Any:
    actor = current_actor()
    if stream:
        queue: asyncio.Queue[Chunk | Done] = asyncio.Queue()
        lives = state.generations.start(turn, actor, queue)
        return event_stream(streams.turn_stream(turn.prompt, lives, queue))
    lives = state.generations.start(turn, actor)
    # a client that leaves cancels this wait only; the answers go on being written
    await asyncio.gather(*(live.ended.wait() for live in lives))
    answers = [live.final for live in lives if live.final is not None]
    result = SendResult(message=turn.prompt, answers=answers).model_dump(mode="json")
    if answers and all(answer.status in ("failed", "incomplete") for answer in answers):
        # the prompt is kept (and shown in the problem); the answers say what went wrong
        error = answers[0].error or {}
        raise error_for_status(
            int(error.get("status") or 502),
            str(error.get("message") or "The answer could not be generated."),
            code=str(error.get("code") or "generation_failed"),
            chat_id=turn.chat_id,
            prompt=result["message"],
            answers=result["answers"],
        )
    return result, 201
