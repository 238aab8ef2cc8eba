"""OpenAI's request shapes, checked strictly enough that a malformed request gets a 400
naming the offending ``param``, and loosely enough that clients' extra fields pass."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from notewell.kernel.errors import BadRequest


class InvalidRequest(BadRequest):
    """A request OpenAI would refuse (400 ``invalid_request_error``); ``param`` names
    the field."""

    default_code = "invalid_request"


class ChatMessage(BaseModel):
    """One message of a conversation."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class StreamOptions(BaseModel):
    include_usage: bool = False


class CompletionRequest(BaseModel):
    """``POST /v1/chat/completions``."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = 1
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None

    @field_validator("stop")
    @classmethod
    def _listed(cls, value: str | list[str] | None) -> list[str] | None:
        return [value] if isinstance(value, str) else value

    def upstream(self) -> dict[str, Any]:
        """The request as the model gateway takes it."""
        messages = []
        for message in self.messages:
            item = message.model_dump(exclude_none=True)
            if item["role"] == "developer":
                item["role"] = "system"
            messages.append(item)
        request: dict[str, Any] = {"model": self.model, "messages": messages}
        for name in ("tools", "tool_choice", "temperature", "top_p", "stop", "seed"):
            value = getattr(self, name)
            if value is not None:
                request[name] = value
        limit = self.max_completion_tokens or self.max_tokens
        if limit is not None:
            request["max_tokens"] = limit
        return request


class EmbeddingRequest(BaseModel):
    """``POST /v1/embeddings``."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float", "base64"] = "float"

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


def parse(model: type[BaseModel], data: Any) -> Any:
    """``data`` as ``model``; a 400 naming the first bad field otherwise."""
    if not isinstance(data, dict):
        raise InvalidRequest("The body must be a JSON object.", param=None)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = _param(first.get("loc", ()))
        message = (
            f"Invalid value for '{param}': {first.get('msg', 'invalid')}."
            if param
            else f"Invalid request: {first.get('msg', 'invalid')}."
        )
        raise InvalidRequest(message, code="invalid_value", param=param) from None


def _param(location: tuple[Any, ...]) -> str | None:
    """``("messages", 0, "role")`` → ``messages[0].role``; union branch names dropped."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in ("str", "list[str]", "list[dict[str,any]]", "function-after[_listed()]"):
            continue
        else:
            text += f".{part}" if text else str(part)
    return text or None
