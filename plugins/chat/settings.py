"""Settings of the chat plugin (``NOTEWELL_CHAT__<NAME>``, ``[chat]``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from notewell.kernel.settings import PluginSettings


class ChatSettings(PluginSettings):
    """Defaults for new chats, limits on what a message may carry, and generation timing."""

    section: ClassVar[str] = "chat"

    default_model: str | None = Field(
        None,
        description="Model of new chats that name none; empty: the first chat model the "
        "user may use (the embedded local model when no connection is configured).",
    )
    auto_title: bool = Field(
        True, description="Give new chats a title from their first exchange (a pipeline run)."
    )
    title_model: str | None = Field(
        None, description="Model that writes titles; empty: the model that answered."
    )
    max_message_chars: int = Field(
        200_000, ge=1, description="Longest user message accepted, in characters."
    )
    max_models_per_message: int = Field(
        4, ge=1, le=16, description="Most models one prompt may be sent to side by side."
    )
    max_context_messages: int = Field(
        0,
        ge=0,
        description="Most earlier messages sent to the model with a prompt (newest kept); "
        "0 sends the whole branch.",
    )
    checkpoint_interval_s: float = Field(
        2.0,
        gt=0,
        description="While an answer streams, its text so far is saved this often, so a "
        "hard crash loses at most this much and other replicas can re-attach.",
    )
    run_chunk_interval_s: float = Field(
        0.1,
        ge=0,
        description="A streamed answer's text goes to its run's viewers (run.chunk) at most "
        "this often, batched; the chat itself still gets every token as it arrives. 0 "
        "sends every token to both.",
    )
    chat_pipeline: str = Field("chat", description="Pipeline every answer runs.")
    title_pipeline: str = Field("chat-title", description="Pipeline that writes titles.")
    shutdown_grace_s: float = Field(
        10.0, gt=0, description="Seconds to wait at shutdown for answers to be saved."
    )
