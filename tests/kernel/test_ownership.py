"""The ownership helper: another user's row does not exist for you."""

from __future__ import annotations

import pytest
from sqlalchemy import String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from notewell.kernel import Actor
from notewell.kernel.db import Database
from notewell.kernel.errors import NotFound
from notewell.kernel.ownership import get_owned, owned_by


class OwnershipTestBase(DeclarativeBase):
    """Kept apart from the app's metadata, which migrations are checked against."""


class Note(OwnershipTestBase):
    __tablename__ = "test_ownership_note"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(26))
    text: Mapped[str] = mapped_column(String(100))


ALICE = Actor(id="alice", kind="user", roles=frozenset({"user"}))
BOB = Actor(id="bob", kind="user", roles=frozenset({"user"}))
ANON = Actor(id=None)


@pytest.fixture
async def db(database_url):
    database = Database(database_url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Note.__table__.create)
    async with database.session() as session:
        session.add_all([Note(id="n1", user_id="alice", text="a"),
                         Note(id="n2", user_id="bob", text="b")])
    yield database
    await database.dispose()


async def test_owner_sees_only_their_rows(db):
    async with db.session() as session:
        rows = (await session.scalars(owned_by(select(Note), Note, ALICE))).all()
    assert [row.id for row in rows] == ["n1"]


async def test_anonymous_owns_nothing(db):
    async with db.session() as session:
        assert (await session.scalars(owned_by(select(Note), Note, ANON))).all() == []


async def test_someone_elses_row_is_not_found(db):
    async with db.session() as session:
        assert (await get_owned(session, Note, "n1", ALICE, what="note")).text == "a"
        with pytest.raises(NotFound) as raised:
            await get_owned(session, Note, "n1", BOB, what="note")
    assert raised.value.code == "note_not_found"
