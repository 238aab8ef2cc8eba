"""Connections API: admin-only CRUD, keys encrypted at rest and never returned."""

from __future__ import annotations

import logging

from sqlalchemy import select

from notewell.plugins.providers.keybox import KeyBox
from notewell.plugins.providers.models import Connection

from .conftest import ADMIN, USER

SECRET = "sk-test-0123456789-very-secret"


def body(**overrides):
    data = {
        "name": "openai-main",
        "type": "openai",
        "base_url": "http://127.0.0.1:9/v1",
        "api_key": SECRET,
        "prefix": "oa/",
        "models": ["chat-model"],
    }
    data.update(overrides)
    return data


async def create(client, **overrides):
    response = await client.post("/api/v1/connections", json=body(**overrides), headers=ADMIN)
    assert response.status_code == 201, await response.get_data(as_text=True)
    return await response.get_json()


async def test_created_connection_shows_whether_it_has_a_key_but_never_the_key(app, client):
    created = await create(client)
    assert created["has_api_key"] is True
    assert "api_key" not in created
    listed = await client.get("/api/v1/connections", headers=ADMIN)
    text = await listed.get_data(as_text=True)
    assert SECRET not in text
    assert (await listed.get_json())["data"][0]["name"] == "openai-main"


async def test_key_is_stored_encrypted_under_the_secret_key(app, client):
    await create(client)
    async with app.kernel.db.session() as session:
        row = (await session.scalars(select(Connection))).one()
    assert SECRET not in row.api_key_encrypted
    box = KeyBox(app.kernel.settings.ensure_secret_key())
    assert box.decrypt(row.api_key_encrypted) == SECRET
    other = KeyBox("another-secret-key")
    try:
        other.decrypt(row.api_key_encrypted, connection="openai-main")
    except Exception as exc:
        assert getattr(exc, "code", "") == "connection_key_unreadable"
    else:
        raise AssertionError("a different secret key opened the stored key")


async def test_the_key_never_reaches_the_logs(app, client, caplog):
    caplog.set_level(logging.DEBUG)
    created = await create(client)
    await client.patch(
        f"/api/v1/connections/{created['id']}", json={"api_key": SECRET + "2"}, headers=ADMIN
    )
    await client.get("/api/v1/models", headers=ADMIN)
    assert SECRET not in caplog.text


async def test_only_admins_manage_connections(client):
    assert (await client.get("/api/v1/connections")).status_code == 401
    response = await client.get("/api/v1/connections", headers=USER)
    assert response.status_code == 403
    response = await client.post("/api/v1/connections", json=body(), headers=USER)
    assert response.status_code == 403


async def test_names_are_unique(client):
    await create(client)
    response = await client.post("/api/v1/connections", json=body(), headers=ADMIN)
    assert response.status_code == 409
    assert (await response.get_json())["code"] == "connection_name_taken"


async def test_the_local_providers_name_is_taken(client):
    response = await client.post("/api/v1/connections", json=body(name="local"), headers=ADMIN)
    assert response.status_code == 409
    assert (await response.get_json())["code"] == "connection_name_taken"


async def test_bad_connections_are_refused_with_a_reason(client):
    cases = [
        (body(type="nope"), "unknown_provider_type"),
        (body(type="anthropic", api_key=None, name="claude"), "api_key_required"),
        (body(base_url="ftp://example.test"), "validation_failed"),
        (body(surprise=True), "validation_failed"),
    ]
    for data, code in cases:
        response = await client.post("/api/v1/connections", json=data, headers=ADMIN)
        assert response.status_code == 422, data
        assert (await response.get_json())["code"] == code
    listed = await client.get("/api/v1/connections", headers=ADMIN)
    assert (await listed.get_json())["data"] == []


async def test_update_changes_fields_and_null_clears_the_key(client):
    created = await create(client)
    url = f"/api/v1/connections/{created['id']}"
    response = await client.patch(url, json={"prefix": "main/", "enabled": False}, headers=ADMIN)
    changed = await response.get_json()
    assert (changed["prefix"], changed["enabled"], changed["has_api_key"]) == ("main/", False, True)
    response = await client.patch(url, json={"api_key": None}, headers=ADMIN)
    assert (await response.get_json())["has_api_key"] is False


async def test_deleted_connection_is_gone(client):
    created = await create(client)
    url = f"/api/v1/connections/{created['id']}"
    assert (await client.delete(url, headers=ADMIN)).status_code == 204
    response = await client.get(url, headers=ADMIN)
    assert response.status_code == 404
    assert (await response.get_json())["code"] == "connection_not_found"


async def test_provider_types_are_listed(client):
    response = await client.get("/api/v1/provider-types", headers=ADMIN)
    types = {row["type"]: row for row in (await response.get_json())["data"]}
    assert set(types) >= {"openai", "ollama", "anthropic", "gemini"}
    assert types["anthropic"]["requires_api_key"] is True


async def test_providers_branch_downgrades_and_upgrades(app):
    migrator = app.kernel.migrator()
    reverted = await migrator.downgrade("providers@base")
    assert [step.revision for step in reverted] == ["providers0001"]
    applied = await migrator.upgrade()
    assert [step.revision for step in applied] == ["providers0001"]
