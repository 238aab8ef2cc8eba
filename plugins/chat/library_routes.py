"""The rest of the chat API: search, tags, folders, presets, share links, export, import."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, Field
from quart import Blueprint, Response, request
from quart_schema import validate_querystring, validate_request

from notewell.kernel import policy
from notewell.kernel.app import current_kernel
from notewell.kernel.errors import BadRequest, UnsupportedMediaType
from notewell.kernel.http import current_actor
from notewell.plugins.chat.formats import parse_json, parse_markdown
from notewell.plugins.chat.schemas import (
    FolderList,
    FolderWrite,
    ImportResult,
    PresetCreate,
    PresetList,
    PresetUpdate,
    SearchResults,
    TagList,
)
from notewell.plugins.chat.state import ChatState, state_of

bp = Blueprint("chat_library", __name__, url_prefix="/api/v1/chats")

_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._ -]+")


def chat_state() -> ChatState:
    return state_of(current_kernel())


class SearchQuery(BaseModel):
    q: str = Field(min_length=1, max_length=500)
    cursor: str | None = None
    limit: int = Field(20, ge=1, le=100)


class ExportQuery(BaseModel):
    format: Literal["json", "markdown"] = "json"


# -- search and tags -------------------------------------------------------------------


@bp.get("/search")
@policy.user
@validate_querystring(SearchQuery)
async def search(query_args: SearchQuery) -> dict[str, Any]:
    """Messages of the caller's chats that contain every word of ``q``, newest first."""
    results: SearchResults = await chat_state().search.search(
        current_actor(), query_args.q, cursor=query_args.cursor, limit=query_args.limit
    )
    return results.model_dump(mode="json")


@bp.get("/tags")
@policy.user
async def list_tags() -> dict[str, Any]:
    """The caller's tags with how many chats carry each."""
    return TagList(data=await chat_state().chats.tags(current_actor())).model_dump(mode="json")


# -- folders ----------------------------------------------------------------------------


@bp.get("/folders")
@policy.user
async def list_folders() -> dict[str, Any]:
    folders = await chat_state().folders.list(current_actor())
    return FolderList(data=folders).model_dump(mode="json")


@bp.post("/folders")
@policy.user
@validate_request(FolderWrite)
async def create_folder(data: FolderWrite) -> tuple[dict[str, Any], int]:
    folder = await chat_state().folders.create(current_actor(), data.name)
    return folder.model_dump(mode="json"), 201


@bp.patch("/folders/<folder_id>")
@policy.user
@validate_request(FolderWrite)
async def rename_folder(folder_id: str, data: FolderWrite) -> dict[str, Any]:
    folder = await chat_state().folders.rename(current_actor(), folder_id, data.name)
    return folder.model_dump(mode="json")


@bp.delete("/folders/<folder_id>")
@policy.user
async def delete_folder(folder_id: str) -> tuple[str, int]:
    """Delete a folder; its chats stay, unfiled."""
    await chat_state().folders.delete(current_actor(), folder_id)
    return "", 204


# -- presets ----------------------------------------------------------------------------


@bp.get("/presets")
@policy.user
async def list_presets() -> dict[str, Any]:
    presets = await chat_state().presets.list(current_actor())
    return PresetList(data=presets).model_dump(mode="json")


@bp.post("/presets")
@policy.user
@validate_request(PresetCreate)
async def create_preset(data: PresetCreate) -> tuple[dict[str, Any], int]:
    """A named model setup; send to it with the model reference ``preset:<id>``."""
    preset = await chat_state().presets.create(current_actor(), data)
    return preset.model_dump(mode="json"), 201


@bp.get("/presets/<preset_id>")
@policy.user
async def read_preset(preset_id: str) -> dict[str, Any]:
    return (await chat_state().presets.get(current_actor(), preset_id)).model_dump(mode="json")


@bp.patch("/presets/<preset_id>")
@policy.user
@validate_request(PresetUpdate)
async def update_preset(preset_id: str, data: PresetUpdate) -> dict[str, Any]:
    preset = await chat_state().presets.update(current_actor(), preset_id, data)
    return preset.model_dump(mode="json")


@bp.delete("/presets/<preset_id>")
@policy.user
async def delete_preset(preset_id: str) -> tuple[str, int]:
    await chat_state().presets.delete(current_actor(), preset_id)
    return "", 204


# -- share links ------------------------------------------------------------------------


@bp.post("/<chat_id>/share")
@policy.user
async def share_chat(chat_id: str) -> tuple[dict[str, Any], int]:
    """Share a snapshot of the branch on show (sharing again refreshes it)."""
    share = await chat_state().shares.share(current_actor(), chat_id)
    return share.model_dump(mode="json"), 201


@bp.get("/<chat_id>/share")
@policy.user
async def read_share(chat_id: str) -> dict[str, Any]:
    return (await chat_state().shares.get(current_actor(), chat_id)).model_dump(mode="json")


@bp.delete("/<chat_id>/share")
@policy.user
async def revoke_share(chat_id: str) -> tuple[str, int]:
    """Revoke the link: it answers 404 from now on."""
    await chat_state().shares.revoke(current_actor(), chat_id)
    return "", 204


@bp.get("/shared/<token>")
@policy.public
async def read_shared(token: str) -> dict[str, Any]:
    """A shared snapshot, for anyone with the link."""
    return (await chat_state().shares.shared(token)).model_dump(mode="json")


# -- export and import ------------------------------------------------------------------


@bp.get("/<chat_id>/export")
@policy.user
@validate_querystring(ExportQuery)
async def export_chat(chat_id: str, query_args: ExportQuery) -> Response:
    """One chat as Notewell JSON (every branch) or Markdown (the branch on show)."""
    transfer, actor = chat_state().transfer, current_actor()
    if query_args.format == "markdown":
        text, title = await transfer.export_markdown(actor, chat_id)
        return _download(text, "text/markdown; charset=utf-8", f"{title}.md")
    data = await transfer.export_json(actor, chat_id)
    return _download(json.dumps(data), "application/json", f"{data['chat']['title']}.json")


@bp.get("/export")
@policy.user
async def export_all() -> Response:
    """Every chat of the caller as one ``notewell.chats`` JSON document (streamed)."""
    response = Response(
        chat_state().transfer.export_all(current_actor()), content_type="application/json"
    )
    response.headers["Content-Disposition"] = 'attachment; filename="chats.json"'
    response.timeout = None
    return response


@bp.post("/import")
@policy.user
async def import_chats() -> tuple[dict[str, Any], int]:
    """Chats from Notewell JSON, Open WebUI's chat export (JSON), or Markdown
    (``Content-Type: text/markdown``); all or nothing."""
    mimetype = request.mimetype
    if mimetype in ("text/markdown", "text/plain"):
        chats = [parse_markdown(await request.get_data(as_text=True))]
    elif request.is_json:
        data = await request.get_json(silent=True)
        if data is None:
            raise BadRequest("The body is not valid JSON.", code="malformed_request")
        chats = parse_json(data)
    else:
        raise UnsupportedMediaType(
            "Send JSON (application/json) or Markdown (text/markdown).",
            code="unsupported_media_type",
        )
    created = await chat_state().transfer.import_chats(current_actor(), chats)
    return ImportResult(data=created).model_dump(mode="json"), 201


def _download(body: str, content_type: str, filename: str) -> Response:
    safe = _UNSAFE_FILENAME.sub("", filename).strip() or "chat"
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    return response
