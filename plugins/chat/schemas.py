"""Request and response models of the chat API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TAG_PATTERN = r"^[^\s,][^,]{0,63}$"
ModelRef = str
"""A model id from ``GET /api/v1/models``, or ``preset:<id>`` for one of the user's presets."""


class Strict(BaseModel):
    """Refuses unknown fields, so a typo is an error instead of being ignored."""

    model_config = ConfigDict(extra="forbid")


class GenerationParams(Strict):
    """Sampling parameters passed to the model; those left out use the model's defaults."""

    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1, le=1_000_000)
    seed: int | None = None
    stop: list[str] | None = Field(None, max_length=8)

    def merged(self, *others: dict[str, Any] | None) -> dict[str, Any]:
        """These parameters over ``others`` (earlier ones lose), without ``None`` values."""
        result: dict[str, Any] = {}
        for layer in (*others, self.model_dump(exclude_none=True)):
            result.update({k: v for k, v in (layer or {}).items() if v is not None})
        return result


def _clean_tags(tags: list[str] | None) -> list[str] | None:
    if tags is None:
        return None
    seen: dict[str, None] = {}
    for tag in tags:
        seen.setdefault(tag.strip().lower(), None)
    return [tag for tag in seen if tag]


# -- chats ------------------------------------------------------------------------------


class ChatCreate(Strict):
    """A new, empty chat; its first message is sent with ``POST …/messages``."""

    title: str = Field("", max_length=200)
    folder_id: str | None = None
    preset_id: str | None = None
    system_prompt: str = Field("", max_length=100_000)
    models: list[ModelRef] = Field(default_factory=list, max_length=16)
    params: GenerationParams = Field(default_factory=GenerationParams)
    tags: list[str] = Field(default_factory=list, max_length=32)
    pinned: bool = False

    _tags = field_validator("tags")(_clean_tags)


class ChatUpdate(Strict):
    """Changes to a chat; fields left out stay as they are (``folder_id: null`` unfiles)."""

    title: str | None = Field(None, min_length=1, max_length=200)
    folder_id: str | None = None
    preset_id: str | None = None
    system_prompt: str | None = Field(None, max_length=100_000)
    models: list[ModelRef] | None = Field(None, max_length=16)
    params: GenerationParams | None = None
    tags: list[str] | None = Field(None, max_length=32)
    pinned: bool | None = None
    archived: bool | None = None

    _tags = field_validator("tags")(_clean_tags)


class ChatRead(BaseModel):
    """A chat as lists show it."""

    id: str
    title: str
    folder_id: str | None
    preset_id: str | None
    models: list[str]
    tags: list[str]
    pinned: bool
    archived: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Any, tags: list[str]) -> ChatRead:
        """The view of a ``chat_chat`` row with its tag names."""
        return cls(
            id=row.id,
            title=row.title,
            folder_id=row.folder_id,
            preset_id=row.preset_id,
            models=list(row.models or []),
            tags=sorted(tags),
            pinned=row.pinned,
            archived=row.archived,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class ChatList(BaseModel):
    """A page of chats, most recently active first; pass ``next_cursor`` as ``cursor``."""

    data: list[ChatRead]
    next_cursor: str | None


# -- messages ---------------------------------------------------------------------------


class MessageRead(BaseModel):
    """One message. ``sibling_ids`` (on a thread's path) lists it and its siblings."""

    id: str
    chat_id: str
    parent_id: str | None
    role: str
    content: str
    model: str | None
    preset_id: str | None
    status: str
    error: dict[str, Any] | None
    run_id: str | None
    usage: dict[str, Any] | None
    meta: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    seq: int = 0
    sibling_ids: list[str] | None = None

    @classmethod
    def of(cls, row: Any, sibling_ids: list[str] | None = None) -> MessageRead:
        """The view of a ``chat_message`` row."""
        return cls(
            id=row.id,
            chat_id=row.chat_id,
            parent_id=row.parent_id,
            role=row.role,
            content=row.content,
            model=row.model,
            preset_id=row.preset_id,
            status=row.status,
            error=row.error,
            run_id=row.run_id,
            usage=row.usage,
            meta=dict(row.meta or {}),
            created_at=row.created_at,
            updated_at=row.updated_at,
            seq=row.seq,
            sibling_ids=sibling_ids,
        )


class ChatDetail(ChatRead):
    """A chat with the branch on show, root first, ending at ``current_message_id``."""

    system_prompt: str
    params: dict[str, Any]
    current_message_id: str | None
    messages: list[MessageRead]


class MessageList(BaseModel):
    """Every message of a chat (all branches), oldest first."""

    data: list[MessageRead]
    next_cursor: str | None


class MessageCreate(Strict):
    """A user message, answered by each of ``models`` side by side.

    ``parent_id`` left out continues the branch on show; a message's id starts a new
    branch beside that message's children (this is how an edit is sent); ``null``
    starts a new root. ``models`` left out uses the chat's models (or its preset, or
    the default model).
    """

    content: str = Field(min_length=1)
    parent_id: str | None = None
    models: list[ModelRef] | None = Field(None, min_length=1)
    params: GenerationParams = Field(default_factory=GenerationParams)
    stream: bool = True


class Regenerate(Strict):
    """Another answer: beside an assistant message, or under a user message."""

    model: ModelRef | None = None
    params: GenerationParams = Field(default_factory=GenerationParams)
    stream: bool = True


class CurrentUpdate(Strict):
    """Show the branch through ``message_id`` (down to its newest leaf)."""

    message_id: str


class SendResult(BaseModel):
    """The answer of a non-streaming send: the user message and the final answers."""

    message: MessageRead | None
    answers: list[MessageRead]


# -- folders, presets, tags ---------------------------------------------------------------


class FolderWrite(Strict):
    name: str = Field(min_length=1, max_length=100)


class FolderRead(BaseModel):
    id: str
    name: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> FolderRead:
        return cls(id=row.id, name=row.name, created_at=row.created_at, updated_at=row.updated_at)


class FolderList(BaseModel):
    data: list[FolderRead]


class PresetCreate(Strict):
    """A named model setup: base model, system prompt, parameters."""

    name: str = Field(min_length=1, max_length=100)
    base_model: str = Field(min_length=1, max_length=200)
    system_prompt: str = Field("", max_length=100_000)
    params: GenerationParams = Field(default_factory=GenerationParams)


class PresetUpdate(Strict):
    name: str | None = Field(None, min_length=1, max_length=100)
    base_model: str | None = Field(None, min_length=1, max_length=200)
    system_prompt: str | None = Field(None, max_length=100_000)
    params: GenerationParams | None = None


class PresetRead(BaseModel):
    id: str
    name: str
    base_model: str
    system_prompt: str
    params: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> PresetRead:
        return cls(
            id=row.id,
            name=row.name,
            base_model=row.base_model,
            system_prompt=row.system_prompt,
            params=dict(row.params or {}),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class PresetList(BaseModel):
    data: list[PresetRead]


class TagCount(BaseModel):
    name: str
    count: int


class TagList(BaseModel):
    data: list[TagCount]


# -- search, shares, transfer ------------------------------------------------------------


class SearchHit(BaseModel):
    """A message that matches, with a short excerpt around the first match.

    ``highlights`` are ``[start, end)`` character offsets of matches in ``snippet``.
    """

    chat_id: str
    chat_title: str
    message_id: str
    role: str
    snippet: str
    highlights: list[tuple[int, int]]
    created_at: datetime


class SearchResults(BaseModel):
    """Matches, newest first; pass ``next_cursor`` as ``cursor`` for more."""

    data: list[SearchHit]
    next_cursor: str | None


class ShareRead(BaseModel):
    """A chat's share link; ``path`` is relative to the server's public URL."""

    token: str
    path: str
    chat_id: str
    created_at: datetime


class SharedChat(BaseModel):
    """What anyone with a share token sees: a snapshot of one branch."""

    title: str
    shared_at: datetime
    messages: list[dict[str, Any]]


ExportFormat = Literal["json", "markdown"]


class ImportResult(BaseModel):
    """The chats an import created."""

    data: list[ChatRead]
