"""Logging: one line of JSON per record, the request id on every line, secrets masked."""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("notewell_request_id", default=None)

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_STANDARD.add("color_message")  # uvicorn's copy of the message with terminal colours

# bearer tokens, API keys and password fields must never reach a log line
_SECRET_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)(\"?(?:password|secret|api_key|token)\"?\s*[:=]\s*\"?)[^\"\s,}]+"),
    re.compile(r"(nw_)[A-Za-z0-9_-]{8,}"),
]


def mask_secrets(text: str, secrets: tuple[str, ...] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "**********")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "**********", text)
    return text


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; ``extra=`` fields become keys."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return mask_secrets(json.dumps(entry, default=str), self.secrets)


class ConsoleFormatter(logging.Formatter):
    """A readable line for a terminal, with the request id when there is one."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s", "%H:%M:%S")
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = request_id_var.get()
        if request_id:
            line = f"{line} [{request_id}]"
        return mask_secrets(line, self.secrets)


def configure_logging(level: str, fmt: str, secrets: tuple[str, ...] = ()) -> None:
    """Install Notewell's handler on the root logger (replacing an earlier one)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name("notewell")
    handler.setFormatter(JsonFormatter(secrets) if fmt == "json" else ConsoleFormatter(secrets))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "notewell":
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("uvicorn.access", "engineio", "socketio", "aiosqlite", "asyncio", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
