"""A user's folders of chats and model presets."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from notewell.kernel.actor import Actor
from notewell.kernel.db import Database
from notewell.kernel.errors import Conflict, NotFound
from notewell.kernel.ids import new_id
from notewell.plugins.chat import events
from notewell.plugins.chat.chats import owned
from notewell.plugins.chat.events import Publisher
from notewell.plugins.chat.models import Folder, Preset
from notewell.plugins.chat.schemas import (
    FolderRead,
    PresetCreate,
    PresetRead,
    PresetUpdate,
)


class FolderService:
    """Flat folders; deleting one leaves its chats unfiled."""

    def __init__(self, db: Database, publisher: Publisher) -> None:
        self.db = db
        self.publisher = publisher

    async def list(self, actor: Actor) -> list[FolderRead]:
        async with self.db.session() as session:
            rows = await session.scalars(owned(select(Folder), Folder, actor).order_by(Folder.name))
            return [FolderRead.of(row) for row in rows]

    async def create(self, actor: Actor, name: str) -> FolderRead:
        try:
            async with self.db.session() as session:
                row = Folder(id=new_id(), user_id=actor.id, name=name.strip())
                session.add(row)
                await session.flush()
                read = FolderRead.of(row)
        except IntegrityError:
            raise Conflict(
                f"You already have a folder named {name!r}.", code="folder_exists"
            ) from None
        await self.publisher.publish(events.FOLDER_CHANGED, str(actor.id), folder=read)
        return read

    async def rename(self, actor: Actor, folder_id: str, name: str) -> FolderRead:
        try:
            async with self.db.session() as session:
                row = await self._owned(actor, folder_id, session)
                row.name = name.strip()
                await session.flush()
                read = FolderRead.of(row)
        except IntegrityError:
            raise Conflict(
                f"You already have a folder named {name!r}.", code="folder_exists"
            ) from None
        await self.publisher.publish(events.FOLDER_CHANGED, str(actor.id), folder=read)
        return read

    async def delete(self, actor: Actor, folder_id: str) -> None:
        async with self.db.session() as session:
            await session.delete(await self._owned(actor, folder_id, session))
        await self.publisher.publish(events.FOLDER_DELETED, str(actor.id), folder_id=folder_id)

    async def _owned(self, actor: Actor, folder_id: str, session: AsyncSession) -> Folder:
        row = await session.scalar(
            owned(select(Folder), Folder, actor).where(Folder.id == folder_id)
        )
        if row is None:
            raise NotFound(f"No folder {folder_id}.", code="folder_not_found")
        return row


class PresetService:
    """Model presets: a base model, a system prompt and parameters under a name."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(self, actor: Actor) -> list[PresetRead]:
        async with self.db.session() as session:
            rows = await session.scalars(owned(select(Preset), Preset, actor).order_by(Preset.name))
            return [PresetRead.of(row) for row in rows]

    async def get(self, actor: Actor, preset_id: str) -> PresetRead:
        async with self.db.session() as session:
            return PresetRead.of(await self._owned(actor, preset_id, session))

    async def create(self, actor: Actor, data: PresetCreate) -> PresetRead:
        try:
            async with self.db.session() as session:
                row = Preset(
                    id=new_id(),
                    user_id=actor.id,
                    name=data.name.strip(),
                    base_model=data.base_model,
                    system_prompt=data.system_prompt,
                    params=data.params.model_dump(exclude_none=True),
                )
                session.add(row)
                await session.flush()
                return PresetRead.of(row)
        except IntegrityError:
            raise Conflict(
                f"You already have a preset named {data.name!r}.", code="preset_exists"
            ) from None

    async def update(self, actor: Actor, preset_id: str, data: PresetUpdate) -> PresetRead:
        changes = data.model_dump(exclude_unset=True, exclude_none=True)
        if data.params is not None:
            changes["params"] = data.params.model_dump(exclude_none=True)
        try:
            async with self.db.session() as session:
                row = await self._owned(actor, preset_id, session)
                for name, value in changes.items():
                    setattr(row, name, value.strip() if name == "name" else value)
                await session.flush()
                return PresetRead.of(row)
        except IntegrityError:
            raise Conflict(
                f"You already have a preset named {data.name!r}.", code="preset_exists"
            ) from None

    async def delete(self, actor: Actor, preset_id: str) -> None:
        async with self.db.session() as session:
            await session.delete(await self._owned(actor, preset_id, session))

    async def _owned(self, actor: Actor, preset_id: str, session: AsyncSession) -> Preset:
        row = await session.scalar(
            owned(select(Preset), Preset, actor).where(Preset.id == preset_id)
        )
        if row is None:
            raise NotFound(f"No preset {preset_id}.", code="preset_not_found")
        return row
