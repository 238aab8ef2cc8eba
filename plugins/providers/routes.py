"""The providers API: connections (admins) and the shared model list (users)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import validate_request

from notewell.kernel import policy
from notewell.kernel.app import current_kernel
from notewell.kernel.http import current_actor
from notewell.plugins.providers.gateway import ModelGateway, gateway_of
from notewell.plugins.providers.schemas import (
    ConnectionCreate,
    ConnectionList,
    ConnectionRead,
    ConnectionUpdate,
    ModelList,
    ProviderTypeList,
    ProviderTypeRead,
)

bp = Blueprint("providers", __name__, url_prefix="/api/v1")


def gateway() -> ModelGateway:
    return gateway_of(current_kernel())


@bp.get("/connections")
@policy.admin
async def list_connections() -> dict[str, Any]:
    """Every connection (keys never shown: ``has_api_key`` says whether one is set)."""
    rows = await gateway().connections.list()
    return ConnectionList(data=[ConnectionRead.of(row) for row in rows]).model_dump(mode="json")


@bp.post("/connections")
@policy.admin
@validate_request(ConnectionCreate)
async def create_connection(data: ConnectionCreate) -> tuple[dict[str, Any], int]:
    """Add a connection; its key is encrypted before it is stored."""
    row = await gateway().connections.create(data, current_actor())
    return ConnectionRead.of(row).model_dump(mode="json"), 201


@bp.get("/connections/<connection_id>")
@policy.admin
async def read_connection(connection_id: str) -> dict[str, Any]:
    """One connection."""
    row = await gateway().connections.get(connection_id)
    return ConnectionRead.of(row).model_dump(mode="json")


@bp.patch("/connections/<connection_id>")
@policy.admin
@validate_request(ConnectionUpdate)
async def update_connection(connection_id: str, data: ConnectionUpdate) -> dict[str, Any]:
    """Change a connection; fields left out stay, ``"api_key": null`` clears the key."""
    row = await gateway().connections.update(connection_id, data)
    return ConnectionRead.of(row).model_dump(mode="json")


@bp.delete("/connections/<connection_id>")
@policy.admin
async def delete_connection(connection_id: str) -> tuple[str, int]:
    """Remove a connection; its models leave the list at once."""
    await gateway().connections.delete(connection_id)
    return "", 204


@bp.post("/connections/<connection_id>/check")
@policy.admin
async def check_connection(connection_id: str) -> dict[str, Any]:
    """Ask the upstream for its models now: does the connection work?"""
    service = gateway()
    row = await service.connections.get(connection_id)
    return (await service.check(row)).model_dump(mode="json")


@bp.get("/provider-types")
@policy.admin
async def provider_types() -> dict[str, Any]:
    """The kinds of connection that can be created."""
    types = gateway().connections.types
    rows = [
        ProviderTypeRead(
            type=name,
            label=cls.label or name,
            default_base_url=cls.default_base_url,
            requires_api_key=cls.requires_api_key,
        )
        for name, cls in sorted(types.items())
    ]
    return ProviderTypeList(data=rows).model_dump(mode="json")


@bp.get("/models")
@policy.user
async def list_models() -> dict[str, Any]:
    """The models the caller may use, from every enabled connection and the local ones."""
    return (await model_list(gateway())).model_dump(mode="json")


@bp.post("/models/refresh")
@policy.admin
async def refresh_models() -> dict[str, Any]:
    """Rebuild the model list now (it is otherwise kept until a connection changes)."""
    service = gateway()
    service.invalidate()
    return (await model_list(service)).model_dump(mode="json")


async def model_list(service: ModelGateway) -> ModelList:
    actor = current_actor()
    entries = await service.list_models(actor)
    errors = (await service.catalog()).errors if actor.is_admin else []
    return ModelList(data=[entry.to_public() for entry in entries], errors=errors)
