"""The chat plugin's services for one kernel, built on first use and kept in memory."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from notewell.plugins.chat.chats import ChatService
from notewell.plugins.chat.events import Publisher
from notewell.plugins.chat.generation import Generations
from notewell.plugins.chat.library import FolderService, PresetService
from notewell.plugins.chat.search import SearchService
from notewell.plugins.chat.settings import ChatSettings
from notewell.plugins.chat.shares import ShareService
from notewell.plugins.chat.targets import TargetResolver
from notewell.plugins.chat.threads import ThreadService
from notewell.plugins.chat.titles import Titler
from notewell.plugins.chat.transfer import TransferService
from notewell.plugins.chat.turns import TurnWriter

_STATES: weakref.WeakKeyDictionary[Any, ChatState] = weakref.WeakKeyDictionary()


@dataclass
class ChatState:
    """Everything the chat routes, steps and hooks use."""

    settings: ChatSettings
    chats: ChatService
    threads: ThreadService
    turns: TurnWriter
    generations: Generations
    titler: Titler
    folders: FolderService
    presets: PresetService
    search: SearchService
    shares: ShareService
    transfer: TransferService


def state_of(kernel: Any) -> ChatState:
    """The chat services of ``kernel``."""
    state = _STATES.get(kernel)
    if state is None:
        settings: ChatSettings = kernel.settings.plugin(ChatSettings.section)
        db = kernel.db
        publisher = Publisher(kernel.bus)
        turns = TurnWriter(db, publisher, TargetResolver(kernel, settings), settings)
        titler = Titler(kernel, db, publisher, settings)
        state = ChatState(
            settings=settings,
            chats=ChatService(db, publisher),
            threads=ThreadService(db, publisher),
            turns=turns,
            generations=Generations(kernel, turns, publisher, titler, settings),
            titler=titler,
            folders=FolderService(db, publisher),
            presets=PresetService(db),
            search=SearchService(db),
            shares=ShareService(db),
            transfer=TransferService(db, publisher),
        )
        _STATES[kernel] = state
    return state


def forget(kernel: Any) -> ChatState | None:
    """Drop the state of ``kernel`` (at shutdown)."""
    return _STATES.pop(kernel, None)
