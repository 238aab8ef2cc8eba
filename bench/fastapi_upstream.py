"""The bench's upstream with vLLM's HTTP stack: FastAPI on uvicorn (httptools, uvloop),
the request validated by a pydantic model, the answer sent at once. What a real
self-hosted OpenAI-compatible server spends per request before any model runs.

(Its own module: FastAPI reads the handlers' annotations at run time, which the
``from __future__ import annotations`` of ``gateway.py`` would turn into strings.)
"""

import uvicorn
from fastapi import FastAPI, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel


class Message(BaseModel):
    role: str
    content: str | None = None


class ChatRequest(BaseModel):
    model: str
    messages: list[Message]
    stream: bool = False


def run(port: int, completion: bytes, stream: bytes, models: bytes) -> None:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def complete(body: ChatRequest) -> Response:
        if body.stream:  # chunked, as a real server streams
            return StreamingResponse(iter([stream]), media_type="text/event-stream")
        return Response(completion, media_type="application/json")

    @app.get("/v1/models")
    async def list_models() -> Response:
        return Response(models, media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
