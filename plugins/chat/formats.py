"""Chat export and import formats, as pure functions over plain data.

- **Notewell JSON** (``"format": "notewell.chat"``, version 1): the chat's settings and
  every message of every branch with ``id`` / ``parent_id``; ``notewell.chats`` wraps
  several. Import keeps the tree and the branch on show.
- **Markdown**: the branch on show, one ``## Role`` heading per message (``## Assistant
  (model)``), under a ``# Title``. Import reads the same shape back as one branch.
- **Open WebUI** chat exports (a list of ``{"chat": {"history": {"messages": {…},
  "currentId": …}, …}}``, or one of them): import only.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from notewell.kernel.errors import Unprocessable

NOTEWELL_CHAT = "notewell.chat"
NOTEWELL_CHATS = "notewell.chats"
VERSION = 1
MAX_IMPORT_CHATS = 1000
MAX_IMPORT_MESSAGES = 20_000
_HEADING = re.compile(
    r"^## (User|Assistant|System)(?: \((?P<model>[^)\n]*)\))?[ \t]*$", re.MULTILINE
)
_ROLES = {"user", "assistant", "system"}


@dataclass
class ImportedMessage:
    """A message read from an export; ids are the export's own."""

    key: str
    parent_key: str | None
    role: str
    content: str
    model: str | None = None
    created_at: datetime | None = None
    status: str = "complete"


@dataclass
class ImportedChat:
    """A chat read from an export, ready to be written with new ids."""

    title: str
    messages: list[ImportedMessage] = field(default_factory=list)
    current_key: str | None = None
    system_prompt: str = ""
    models: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    pinned: bool = False
    archived: bool = False
    created_at: datetime | None = None


# -- export ------------------------------------------------------------------------------


def to_markdown(title: str, path: Iterable[Any]) -> str:
    """The branch ``path`` (message rows or reads) as Markdown."""
    parts = [f"# {title}\n"]
    for message in path:
        heading = message.role.capitalize()
        if message.role == "assistant" and message.model:
            heading += f" ({message.model})"
        parts.append(f"## {heading}\n\n{message.content.rstrip()}\n")
    return "\n".join(parts)


# -- import ------------------------------------------------------------------------------


def parse_markdown(text: str) -> ImportedChat:
    """A chat from the Markdown this module writes: ``# Title``, then ``## Role`` blocks."""
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    title = first[2:].strip() if first.startswith("# ") else ""
    matches = list(_HEADING.finditer(text))
    if not matches:
        raise Unprocessable(
            "No messages found: each one starts with a '## User' or '## Assistant' line.",
            code="import_invalid",
        )
    chat = ImportedChat(title=title or "Imported chat")
    parent = None
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        key = str(index)
        chat.messages.append(
            ImportedMessage(
                key=key,
                parent_key=parent,
                role=match.group(1).lower(),
                content=text[match.end() : end].strip(),
                model=match.group("model"),
            )
        )
        parent = key
    chat.current_key = parent
    return chat


def parse_json(data: Any) -> list[ImportedChat]:
    """Chats from Notewell's JSON export or Open WebUI's chat export."""
    if isinstance(data, dict) and data.get("format") == NOTEWELL_CHAT:
        return [_notewell_chat(data)]
    if isinstance(data, dict) and data.get("format") == NOTEWELL_CHATS:
        return [_notewell_chat(item) for item in _items(data.get("chats"))]
    if isinstance(data, dict) and isinstance(data.get("chat"), dict):
        return [_openwebui_chat(data)]
    if isinstance(data, list) and all(isinstance(item, dict) for item in data):
        return [_openwebui_chat(item) for item in _items(data)]
    raise Unprocessable(
        'Not a chat export: expected Notewell\'s JSON ("format": "notewell.chat") '
        "or an Open WebUI chat export.",
        code="import_invalid",
    )


def _items(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise Unprocessable("The export's chats must be a list.", code="import_invalid")
    if len(value) > MAX_IMPORT_CHATS:
        raise Unprocessable(
            f"Import at most {MAX_IMPORT_CHATS} chats at once.", code="import_too_large"
        )
    return value


def _notewell_chat(data: Any) -> ImportedChat:
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise Unprocessable("A notewell.chat export needs a messages list.", code="import_invalid")
    info = data.get("chat") if isinstance(data.get("chat"), dict) else {}
    chat = ImportedChat(
        title=_text(info.get("title")) or "Imported chat",
        current_key=info.get("current_message_id"),
        system_prompt=_text(info.get("system_prompt")),
        models=[m for m in info.get("models") or [] if isinstance(m, str)],
        params=info.get("params") if isinstance(info.get("params"), dict) else {},
        tags=[t for t in info.get("tags") or [] if isinstance(t, str)],
        pinned=bool(info.get("pinned")),
        archived=bool(info.get("archived")),
        created_at=_time(info.get("created_at")),
    )
    for item in data["messages"]:
        if not isinstance(item, dict) or item.get("role") not in _ROLES or "id" not in item:
            raise Unprocessable(
                "Each message needs an id, a role and content.", code="import_invalid"
            )
        chat.messages.append(
            ImportedMessage(
                key=str(item["id"]),
                parent_key=str(item["parent_id"]) if item.get("parent_id") else None,
                role=item["role"],
                content=_text(item.get("content")),
                model=item.get("model") if isinstance(item.get("model"), str) else None,
                created_at=_time(item.get("created_at")),
                status=item.get("status") if item.get("status") in _FINAL else "complete",
            )
        )
    return _checked(chat)


_FINAL = {"complete", "stopped", "incomplete", "failed"}


def _openwebui_chat(item: dict[str, Any]) -> ImportedChat:
    body = item.get("chat") if isinstance(item.get("chat"), dict) else item
    history = body.get("history") if isinstance(body.get("history"), dict) else {}
    messages = history.get("messages")
    meta = item.get("meta") if isinstance(item.get("meta"), dict) else {}
    tags = meta.get("tags") or body.get("tags") or []
    chat = ImportedChat(
        title=_text(item.get("title") or body.get("title")) or "Imported chat",
        current_key=history.get("currentId"),
        system_prompt=_text(body.get("system") or (body.get("params") or {}).get("system")),
        models=[m for m in body.get("models") or [] if isinstance(m, str)],
        tags=[t if isinstance(t, str) else str(t.get("name", "")) for t in tags if t],
        pinned=bool(item.get("pinned")),
        archived=bool(item.get("archived")),
        created_at=_time(item.get("created_at") or body.get("timestamp")),
    )
    if isinstance(messages, dict) and messages:
        for key, message in messages.items():
            chat.messages.append(_openwebui_message(str(message.get("id") or key), message))
    elif isinstance(body.get("messages"), list):  # older exports: a flat list
        parent = None
        for index, message in enumerate(body["messages"]):
            key = str(message.get("id") or index)
            chat.messages.append(_openwebui_message(key, {**message, "parentId": parent}))
            parent = key
        chat.current_key = chat.current_key or parent
    else:
        raise Unprocessable(
            "An Open WebUI chat needs chat.history.messages.", code="import_invalid"
        )
    return _checked(chat)


def _openwebui_message(key: str, message: Any) -> ImportedMessage:
    if not isinstance(message, dict) or message.get("role") not in _ROLES:
        raise Unprocessable(
            "Each message needs a role of user, assistant or system.", code="import_invalid"
        )
    parent = message.get("parentId")
    model = message.get("model") or message.get("modelName")
    return ImportedMessage(
        key=key,
        parent_key=str(parent) if parent else None,
        role=message["role"],
        content=_text(message.get("content")),
        model=model if isinstance(model, str) else None,
        created_at=_time(message.get("timestamp")),
    )


def _checked(chat: ImportedChat) -> ImportedChat:
    """Drop dangling parents and cycles; keep the current key only if it exists."""
    keys = {message.key for message in chat.messages}
    if len(keys) != len(chat.messages):
        raise Unprocessable("Two messages share an id.", code="import_invalid")
    for message in chat.messages:
        if message.parent_key not in keys:
            message.parent_key = None
    if chat.current_key not in keys:
        chat.current_key = None
    return chat


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # content parts
        return "".join(str(part.get("text", "")) for part in value if isinstance(part, dict))
    return ""


def _time(value: Any) -> datetime | None:
    """An ISO time or a Unix time (seconds or milliseconds) as an aware datetime."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def topological(messages: list[ImportedMessage]) -> list[ImportedMessage]:
    """Parents before children, siblings by time then export order; cycles dropped."""
    children: dict[str | None, list[ImportedMessage]] = {}
    for message in messages:
        children.setdefault(message.parent_key, []).append(message)
    epoch = datetime.min.replace(tzinfo=UTC)
    ordered: list[ImportedMessage] = []
    queue = deque(sorted(children.get(None, []), key=lambda m: m.created_at or epoch))
    while queue:
        message = queue.popleft()
        ordered.append(message)
        queue.extend(sorted(children.get(message.key, []), key=lambda m: m.created_at or epoch))
    return ordered
