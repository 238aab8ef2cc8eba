"""Hooks the providers plugin publishes (through ``register_hookspecs``).

Other plugins implement the ``register_*`` hooks to add providers, and call
``model_gateway_from_kernel`` to use models — never importing this plugin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from notewell.kernel.hookspecs import hookspec


@hookspec
def register_providers() -> Mapping[str, type[Any]]:
    """Return provider classes admins can create connections of, keyed by type.

    Each class follows the provider interface of ``docs/providers.md`` (subclass
    ``notewell.plugins.providers.interface.Provider`` when you may import it, or
    duck-type it): it is built as ``cls(config)`` with a ``ConnectionConfig``
    (``name``, ``type``, ``base_url``, decrypted ``api_key``, ``options``, timeouts)
    and offers ``list_models()``, ``stream(request)``, ``chat(request)``,
    ``embed(model, texts)`` and ``aclose()``.

    Example: ``return {"mistral": MistralProvider}``.
    """


@hookspec
def register_provider_instances(settings: Any) -> Any:
    """Return ready provider objects (one or a list) that need no connection row.

    Their models join the shared list under the provider's ``name``. The embedded
    local models come this way; so does a ``LangChainProvider`` wrapping LangChain
    models a plugin builds itself. ``settings`` are the kernel's settings.
    """


@hookspec(firstresult=True)
def model_gateway_from_kernel(kernel: Any) -> Any:
    """Return the model gateway of ``kernel``: the one way to list and call models.

    firstresult; the providers plugin answers. The gateway offers
    ``await list_models(actor)``, ``await chat(actor, request)``,
    ``await stream(actor, request)`` (a ``ChatStream``: iterate it for deltas, close it
    to cancel), ``await embed(actor, model, texts)`` and ``await resolve(actor, model,
    capability)``; see ``docs/providers.md``.
    """
