"""The OpenAI-compatible routes under ``/v1``. Errors render in OpenAI's shape (see
``hooks.response_from_error``)."""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json, to_json
from quart import Blueprint, Response, request

from notewell.kernel import policy
from notewell.kernel.app import current_kernel
from notewell.kernel.http import current_actor
from notewell.plugins.openai_api.schemas import (
    CompletionRequest,
    EmbeddingRequest,
    InvalidRequest,
    parse,
)
from notewell.plugins.openai_api.state import service_of

bp = Blueprint("openai_api", __name__, url_prefix="/v1")

RATE_LIMIT_ATTRIBUTE = "__notewell_rate_limit__"


def _json(data: Any) -> Response:
    """A JSON response, encoded here by pydantic-core (the app's response conversion is
    skipped: it builds a validator per call, a measurable share of a proxied
    completion's CPU; and ``json.dumps`` takes several times as long, most of all for
    embeddings' floats)."""
    return Response(to_json(data), content_type="application/json")


async def _body() -> dict[str, Any]:
    """The JSON body; 400 in OpenAI's shape when it is not JSON."""
    raw = await request.get_data()
    try:
        data = from_json(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise InvalidRequest(
            "The body must be a JSON object (Content-Type: application/json).",
            code="invalid_json",
            param=None,
        )
    return data


@bp.get("/models")
@policy.user
async def list_models() -> Response:
    """The models the caller may use."""
    return _json(await service_of(current_kernel()).models(current_actor()))


@bp.post("/chat/completions")
@policy.user
async def chat_completions() -> Any:
    """A chat completion, whole or streamed (Server-Sent Events ending ``[DONE]``)."""
    body = await _body()
    completion = parse(CompletionRequest, body)
    service = service_of(current_kernel())
    if completion.stream:
        events = await service.stream(current_actor(), completion, body)
        response = Response(events, content_type="text/event-stream")
        response.headers["Cache-Control"] = "no-cache"
        response.timeout = None
        return response
    return _json(await service.complete(current_actor(), completion, body))


@bp.post("/embeddings")
@policy.user
async def embeddings() -> Response:
    """Vectors for a text or a list of texts (``encoding_format``: float or base64)."""
    body = await _body()
    answer = await service_of(current_kernel()).embed(
        current_actor(), parse(EmbeddingRequest, body), body
    )
    return _json(answer)


setattr(chat_completions, RATE_LIMIT_ATTRIBUTE, "generation")
