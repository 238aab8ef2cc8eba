"""A fake Gemini API (v1beta): models list, :generateContent, :streamGenerateContent?alt=sse,
:batchEmbedContents. Its 429 carries the delay in a RetryInfo detail, as Google's does."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .base import (
    API_KEY,
    PIECES,
    RETRY_AFTER,
    TOOL_ARGUMENTS,
    ServerState,
    cut_connection,
    json_response,
    prompt_tokens,
    vector_for,
    wait_for_disconnect,
)

MODELS = [
    {
        "name": "models/chat-model",
        "displayName": "Chat Model",
        "inputTokenLimit": 1048576,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
    },
    {
        "name": "models/embed-model",
        "displayName": "Embed Model",
        "supportedGenerationMethods": ["embedContent"],
    },
    {"name": "models/aqa", "supportedGenerationMethods": ["generateAnswer"]},
]
CHAT_MODELS = {"chat-model", "drop-model", "garbage-model", "slow-model"}
STATUS = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
}


def error(code: int, message: str) -> web.Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message, "status": STATUS[code]}}
    if "API key not valid" in message:
        body["error"]["details"] = [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
        ]
    if code == 429:
        body["error"]["details"] = [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{RETRY_AFTER}s"}
        ]
    return json_response(body, code)


def make_app(state: ServerState) -> web.Application:
    """The app; what it saw goes into ``state``."""

    def refused(request: web.Request) -> web.Response | None:
        if request.headers.get("x-goog-api-key") != API_KEY:
            # Google answers a wrong key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID
            return error(400, "API key not valid. Please pass a valid API key.")
        return None

    async def models(request: web.Request) -> web.Response:
        if (answer := refused(request)) is not None:
            return answer
        return json_response({"models": MODELS})

    async def generate(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        state.record(request, body)
        model, _, method = request.match_info["call"].partition(":")
        if (answer := refused(request)) is not None:
            return answer
        if method == "batchEmbedContents":
            return embed(body)
        if model == "broken-model":
            return error(500, "The model crashed.")
        if model == "limited-model":
            return error(429, "Resource has been exhausted (e.g. check quota).")
        if model not in CHAT_MODELS:
            return error(404, f"models/{model} is not found for API version v1beta")
        chunks = responses(body, model)
        if method == "generateContent":
            if model == "garbage-model":
                return web.Response(text="<html>oops</html>", content_type="text/html")
            return json_response(whole(chunks))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for i, chunk in enumerate(chunks):
            if i == 1 and model == "drop-model":
                await cut_connection(request)
            if i == 1 and model == "garbage-model":
                await response.write(b'data: {"candidates": [garbage\r\n\r\n')
                return response
            await response.write(f"data: {json.dumps(chunk)}\r\n\r\n".encode())
            if i == 0 and model == "slow-model":
                await wait_for_disconnect(state)
        return response

    def embed(body: dict[str, Any]) -> web.Response:
        texts = [r["content"]["parts"][0]["text"] for r in body["requests"]]
        return json_response({"embeddings": [{"values": vector_for(t)} for t in texts]})

    app = web.Application()
    app.router.add_get("/v1beta/models", models)
    app.router.add_post("/v1beta/models/{call}", generate)
    return app


def whole(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """The non-streamed answer: the chunks' parts in one candidate (texts joined)."""
    last = chunks[-1]
    parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
    text = "".join(p["text"] for p in parts if "text" in p)
    merged = [{"text": text}] if text else [p for p in parts if "text" not in p]
    candidate = {**last["candidates"][0], "content": {"role": "model", "parts": merged}}
    return {**last, "candidates": [candidate]}


def responses(body: dict[str, Any], model: str) -> list[dict[str, Any]]:
    """The streamed GenerateContentResponses; the last has finishReason and usage."""
    texts = [p.get("text", "") for c in body["contents"] for p in c["parts"]]
    texts += [p["text"] for p in (body.get("systemInstruction") or {}).get("parts", [])]
    usage = {
        "promptTokenCount": prompt_tokens(texts),
        "candidatesTokenCount": len(PIECES),
        "totalTokenCount": prompt_tokens(texts) + len(PIECES),
    }

    def response(parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish:
            candidate["finishReason"] = finish
        out = {"candidates": [candidate], "modelVersion": model}
        if finish:
            out["usageMetadata"] = usage
        return out

    if body.get("tools"):
        name = body["tools"][0]["functionDeclarations"][0]["name"]
        args = json.loads("".join(TOOL_ARGUMENTS))
        return [response([{"functionCall": {"name": name, "args": args}}], "STOP")]
    out = [response([{"text": piece}]) for piece in PIECES[:-1]]
    out.append(response([{"text": PIECES[-1]}], "STOP"))
    return out
