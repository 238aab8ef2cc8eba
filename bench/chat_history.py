"""Chat history at scale: listing pages for a user with 10,000 chats against one with 60.

Builds an app in this process (SQLite in a temporary folder, or ``--database-url``),
inserts the chats in bulk, then times through the HTTP API (Quart's test client) the
first page of the chat list, a page 5,000 chats deep (by cursor), a tag filter, and
loading a 1,000-message thread against a 10-message one. A flat list is the point: the
10,000-chat user's pages should cost about what the 60-chat user's do (both pages hold
50 chats).

    .venv/bin/python bench/chat_history.py [--repeat 50] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from notewell.kernel.app import create_app
from notewell.kernel.settings import Settings
from notewell.plugins.chat.models import Chat, Message, Tag
from notewell.plugins.chat.tree import successive_ids
from notewell.testing.actors import HeaderActors, as_actor


async def add_chats(app: Any, user: str, count: int, tag_every: int = 20) -> list[str]:
    ids = successive_ids(count)
    now = datetime.now(UTC)
    rows = [
        {
            "id": c,
            "user_id": user,
            "title": f"chat {i}",
            "title_auto": False,
            "system_prompt": "",
            "models": [],
            "params": {},
            "pinned": False,
            "archived": i % 10 == 0,
            "folder_id": None,
            "activity_id": c,
            "created_at": now,
            "updated_at": now,
        }
        for i, c in enumerate(ids)
    ]
    async with app.kernel.db.session() as session:
        for start in range(0, count, 2000):
            await session.execute(insert(Chat), rows[start : start + 2000])
        tags = [{"chat_id": c, "name": "work", "user_id": user} for c in ids[1::tag_every]]
        await session.execute(insert(Tag), tags)
    return ids


async def add_thread(app: Any, user: str, chat_id: str, count: int) -> None:
    ids = successive_ids(count)
    now = datetime.now(UTC)
    rows = [
        {
            "id": m,
            "chat_id": chat_id,
            "user_id": user,
            "parent_id": ids[i - 1] if i else None,
            "role": "user" if i % 2 == 0 else "assistant",
            "content": f"message {i} " + "lorem ipsum dolor sit amet " * 20,
            "status": "complete",
            "meta": {},
            "seq": 0,
            "created_at": now,
            "updated_at": now,
        }
        for i, m in enumerate(ids)
    ]
    async with app.kernel.db.session() as session:
        for start in range(0, count, 500):
            await session.execute(insert(Message), rows[start : start + 500])


async def timed(client: Any, path: str, headers: dict[str, str], repeat: int) -> float:
    """Median milliseconds of ``GET path``."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = await client.get(path, headers=headers)
        await response.get_data()
        assert response.status_code == 200, path
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times)


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="notewell-bench-") as folder:
        settings = Settings.load(
            data_dir=Path(folder),
            log_level="WARNING",
            log_format="console",
            secret_key="bench",
            plugins=["chat", "providers"],
            database_url=args.database_url,
        )
        app = create_app(settings, plugins=[HeaderActors()])
        async with app.test_app():
            many = await add_chats(app, "many", 10_000)
            few = await add_chats(app, "few", 60, tag_every=1)
            await add_thread(app, "many", many[-1], 1000)
            await add_thread(app, "few", few[-1], 10)
            client = app.test_client()
            heavy, light = as_actor("many"), as_actor("few")
            rows = [
                ("first page of 50", "/api/v1/chats?limit=50", "/api/v1/chats?limit=50"),
                (
                    "page 5,000 chats deep",
                    f"/api/v1/chats?limit=50&cursor={many[5000]}",
                    f"/api/v1/chats?limit=50&cursor={few[-1]}",
                ),
                ("tag filter", "/api/v1/chats?tag=work", "/api/v1/chats?tag=work"),
                (
                    "thread: 1,000 vs 10 messages",
                    f"/api/v1/chats/{many[-1]}",
                    f"/api/v1/chats/{few[-1]}",
                ),
            ]
            print(f"{'request':32} {'10,000 chats':>13} {'60 chats':>10} {'ratio':>7}")
            for label, big, small in rows:
                big_ms = await timed(client, big, heavy, args.repeat)
                small_ms = await timed(client, small, light, args.repeat)
                print(f"{label:32} {big_ms:11.2f}ms {small_ms:8.2f}ms {big_ms / small_ms:6.2f}x")
            print(f"(medians of {args.repeat}; {app.kernel.db.dialect})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--database-url")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
