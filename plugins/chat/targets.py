"""Which model answers, and how: model references resolved to targets.

A reference is a model id of the shared model list, or ``preset:<id>`` for one of the
user's presets (a base model with a system prompt and parameters). Models are reached
only through the ``model_gateway_from_kernel`` hook that the providers plugin answers;
this plugin never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notewell.kernel.actor import Actor
from notewell.kernel.errors import NotFound, ServiceUnavailable, Unprocessable
from notewell.plugins.chat.chats import owned
from notewell.plugins.chat.models import Chat, Preset
from notewell.plugins.chat.settings import ChatSettings

PRESET_PREFIX = "preset:"


@dataclass(frozen=True)
class Target:
    """One model that will answer: its id, the preset it came from, its setup."""

    model: str
    preset_id: str | None = None
    system_prompt: str = ""
    params: dict[str, Any] = field(default_factory=dict)


def model_gateway(kernel: Any) -> Any:
    """The model gateway (providers plugin), or 503 ``no_model_provider``."""
    plugins = kernel.plugins
    gateway = None
    if hasattr(plugins.pm.hook, "model_gateway_from_kernel"):
        gateway = plugins.first("model_gateway_from_kernel", kernel=kernel)
    if gateway is None:
        raise ServiceUnavailable(
            "No model provider is enabled on this server.", code="no_model_provider"
        )
    return gateway


class TargetResolver:
    """Turns model references into :class:`Target` s, checking each with the gateway."""

    def __init__(self, kernel: Any, settings: ChatSettings) -> None:
        self.kernel = kernel
        self.settings = settings

    async def resolve(
        self,
        session: AsyncSession,
        actor: Actor,
        chat: Chat,
        refs: list[str] | None,
    ) -> list[Target]:
        """Targets for ``refs``; none given: the chat's models, its preset, the default."""
        if not refs:
            refs = list(chat.models or [])
        if not refs and chat.preset_id:
            refs = [PRESET_PREFIX + chat.preset_id]
        if not refs:
            refs = [await self.default_model(actor)]
        if len(refs) > self.settings.max_models_per_message:
            raise Unprocessable(
                f"Send a prompt to at most {self.settings.max_models_per_message} models.",
                code="too_many_models",
            )
        presets = await self._presets(session, actor, refs)
        targets = []
        for ref in dict.fromkeys(refs):  # each model once
            preset = presets.get(ref)
            if preset is not None:
                target = Target(
                    model=preset.base_model,
                    preset_id=preset.id,
                    system_prompt=chat.system_prompt or preset.system_prompt,
                    params={**(preset.params or {}), **(chat.params or {})},
                )
            else:
                target = Target(
                    model=ref, system_prompt=chat.system_prompt, params=dict(chat.params or {})
                )
            await self.check(actor, target.model)
            targets.append(target)
        return targets

    async def _presets(
        self, session: AsyncSession, actor: Actor, refs: list[str]
    ) -> dict[str, Preset]:
        ids = [ref.removeprefix(PRESET_PREFIX) for ref in refs if ref.startswith(PRESET_PREFIX)]
        if not ids:
            return {}
        rows = await session.scalars(owned(select(Preset), Preset, actor).where(Preset.id.in_(ids)))
        found = {PRESET_PREFIX + row.id: row for row in rows}
        for ref in refs:
            if ref.startswith(PRESET_PREFIX) and ref not in found:
                raise NotFound(
                    f"No preset {ref.removeprefix(PRESET_PREFIX)}.", code="preset_not_found"
                )
        return found

    async def check(self, actor: Actor, model: str) -> None:
        """404 ``model_not_found`` / 403 / 422 unless ``actor`` may chat with ``model``."""
        await model_gateway(self.kernel).resolve(actor, model, "chat")

    async def default_model(self, actor: Actor) -> str:
        """The configured default, else the first chat model the actor may use."""
        if self.settings.default_model:
            return self.settings.default_model
        for entry in await model_gateway(self.kernel).list_models(actor):
            if "chat" in entry.capabilities:
                return str(entry.id)
        raise ServiceUnavailable(
            "No chat model is available; ask an admin to add a connection.",
            code="no_chat_model",
        )
