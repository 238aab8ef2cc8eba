"""The providers plugin's hook implementations: its face to the kernel and other plugins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quart import Blueprint

from notewell.kernel.hookspecs import hookimpl
from notewell.plugins.providers import hookspecs, steps
from notewell.plugins.providers.adapters.anthropic import AnthropicProvider
from notewell.plugins.providers.adapters.gemini import GeminiProvider
from notewell.plugins.providers.adapters.local import LocalProvider
from notewell.plugins.providers.adapters.ollama import OllamaProvider
from notewell.plugins.providers.adapters.openai import OpenAIProvider
from notewell.plugins.providers.gateway import ModelGateway, forget, gateway_of
from notewell.plugins.providers.service import CHANGED_TOPIC
from notewell.plugins.providers.settings import ProvidersSettings


@hookimpl
def register_hookspecs() -> Any:
    return hookspecs


@hookimpl
def register_providers() -> dict[str, type[Any]]:
    return {
        cls.type: cls for cls in (OpenAIProvider, OllamaProvider, AnthropicProvider, GeminiProvider)
    }


@hookimpl
def register_provider_instances(settings: Any) -> list[Any]:
    ours: ProvidersSettings = settings.plugin("providers")
    return [LocalProvider(ours)] if ours.local_models else []


@hookimpl
def model_gateway_from_kernel(kernel: Any) -> ModelGateway:
    return gateway_of(kernel)


@hookimpl
def register_settings() -> type[ProvidersSettings]:
    return ProvidersSettings


@hookimpl
def register_migrations() -> Path:
    return Path(__file__).parent / "migrations"


@hookimpl
def register_routes() -> Blueprint:
    from notewell.plugins.providers.routes import bp

    return bp


@hookimpl
def register_steps() -> list[type[Any]]:
    return [steps.GenerateStep, steps.EmbedStep, steps.ChatStep]


@hookimpl
def on_startup(app: Any) -> None:
    gateway = gateway_of(app.kernel)
    gateway.unsubscribe = app.kernel.bus.subscribe(gateway.on_event, CHANGED_TOPIC)


@hookimpl
async def on_shutdown(app: Any) -> None:
    gateway = forget(app.kernel)
    if gateway is not None:
        if gateway.unsubscribe is not None:
            gateway.unsubscribe()
        await gateway.aclose()
