"""The bus events of the chat plugin; each carries the owner's ``user_id``, so the
kernel's real-time endpoint forwards it to that user's open tabs (room ``user:<id>``).

| topic | data |
|---|---|
| ``chat.created`` | ``{"chat": ChatRead}`` |
| ``chat.updated`` | ``{"chat": ChatRead}`` |
| ``chat.deleted`` | ``{"chat_id"}`` |
| ``chat.message_created`` | ``{"chat_id", "message": MessageRead}`` |
| ``chat.message_chunk`` | ``{"chat_id", "message_id", "seq", "content"}`` |
| ``chat.message_updated`` | ``{"chat_id", "message": MessageRead}`` (run id known, final state) |
| ``chat.message_deleted`` | ``{"chat_id", "message_ids"}`` |
| ``chat.folder_changed`` | ``{"folder": FolderRead}`` (created or renamed) |
| ``chat.folder_deleted`` | ``{"folder_id"}`` |
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from notewell.kernel.events import Event, EventBus

CREATED = "chat.created"
UPDATED = "chat.updated"
DELETED = "chat.deleted"
MESSAGE_CREATED = "chat.message_created"
MESSAGE_CHUNK = "chat.message_chunk"
MESSAGE_UPDATED = "chat.message_updated"
MESSAGE_DELETED = "chat.message_deleted"
FOLDER_CHANGED = "chat.folder_changed"
FOLDER_DELETED = "chat.folder_deleted"


class Publisher:
    """Publishes chat events on the kernel's bus."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus

    async def publish(self, topic: str, user_id: str, **data: Any) -> None:
        payload = {
            key: value.model_dump(mode="json") if isinstance(value, BaseModel) else value
            for key, value in data.items()
        }
        await self.bus.publish(Event(topic, payload, user_id=user_id))

    async def chat(self, topic: str, user_id: str, chat: BaseModel) -> None:
        await self.publish(topic, user_id, chat=chat)

    async def message(self, topic: str, user_id: str, message: BaseModel) -> None:
        await self.publish(
            topic, user_id, chat_id=getattr(message, "chat_id", None), message=message
        )
