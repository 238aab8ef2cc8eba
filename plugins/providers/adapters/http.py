"""What every HTTP provider shares: one httpx client per connection, error mapping and
the two stream framings upstreams use (server-sent events and newline-delimited JSON)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from notewell.plugins.providers.errors import (
    ProviderError,
    StreamBroken,
    UpstreamBadRequest,
    UpstreamModelNotFound,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnauthorized,
    UpstreamUnreachable,
)
from notewell.plugins.providers.interface import ConnectionConfig, Provider

MAX_ERROR_BODY = 64 * 1024
"""Bytes of an error body read to find the upstream's message."""


class HttpProvider(Provider):
    """A provider that talks HTTP to ``base_url`` through one shared ``httpx.AsyncClient``."""

    def __init__(self, config: ConnectionConfig) -> None:
        self.config = config
        self.name = config.name
        self.base_url = (config.base_url or self.default_base_url or "").rstrip("/")
        self._client: httpx.AsyncClient | None = None

    def auth_headers(self) -> dict[str, str]:
        """Headers that carry the API key; the default sends none."""
        return {}

    @property
    def client(self) -> httpx.AsyncClient:
        """The connection's client, made on first use (inside the running loop)."""
        if self._client is None:
            timeout = httpx.Timeout(
                self.config.read_timeout_s, connect=self.config.connect_timeout_s
            )
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                headers=self.auth_headers(),
                timeout=timeout,
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            )
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    # -- plain requests --------------------------------------------------------------

    async def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one request and return its JSON body; upstream errors become ProviderErrors."""
        with self.translate_errors():
            response = await self.client.request(method, path, **kwargs)
            if response.status_code >= 400:
                raise self.error_for(response.status_code, response.headers, response.content)
            try:
                return response.json()
            except ValueError:
                raise self.malformed("the upstream's answer is not JSON") from None

    @contextlib.asynccontextmanager
    async def open_stream(
        self, method: str, path: str, **kwargs: Any
    ) -> AsyncIterator[httpx.Response]:
        """Open a streamed response; leaving the block closes it (and so the upstream)."""
        with self.translate_errors():
            request = self.client.build_request(method, path, **kwargs)
            response = await self.client.send(request, stream=True)
            try:
                if response.status_code >= 400:
                    body = await _read_some(response)
                    raise self.error_for(response.status_code, response.headers, body)
                yield response
            finally:
                await response.aclose()

    # -- framing ---------------------------------------------------------------------

    async def sse_events(self, response: httpx.Response) -> AsyncIterator[tuple[str, str]]:
        """Yield ``(event, data)`` for each server-sent event (event is "" when unnamed)."""
        event, data = "", []
        async for line in self.lines(response):
            if not line:
                if data:
                    yield event, "\n".join(data)
                event, data = "", []
            elif line.startswith(":"):
                continue  # a comment (keep-alive)
            else:
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "data":
                    data.append(value)
                elif name == "event":
                    event = value
        if data:
            yield event, "\n".join(data)

    async def ndjson(self, response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
        """Yield each JSON object of a newline-delimited JSON stream."""
        async for line in self.lines(response):
            if line.strip():
                yield self.parse_json(line)

    async def lines(self, response: httpx.Response) -> AsyncIterator[str]:
        """The response's lines; a dropped connection becomes ``upstream_stream_broken``."""
        with self.translate_errors():
            async for line in response.aiter_lines():
                yield line

    def parse_json(self, text: str) -> Any:
        """Parse one JSON payload of a stream; garbage becomes ``upstream_malformed``."""
        try:
            return json.loads(text)
        except ValueError:
            raise self.malformed(
                f"the upstream sent something that is not JSON: {text[:80]!r}"
            ) from None

    # -- errors ----------------------------------------------------------------------

    @contextlib.contextmanager
    def translate_errors(self) -> Any:
        """Turn httpx's transport errors into ProviderErrors naming this connection."""
        try:
            yield
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(
                f"Connection {self.name!r} timed out ({type(exc).__name__}).", connection=self.name
            ) from None
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise StreamBroken(
                f"Connection {self.name!r} dropped the response before it ended: {exc}",
                connection=self.name,
            ) from None
        except httpx.TransportError as exc:
            raise UpstreamUnreachable(
                f"Connection {self.name!r} could not reach {self.base_url}: {exc or type(exc)}",
                connection=self.name,
            ) from None

    def malformed(self, why: str) -> StreamBroken:
        """The error for an upstream that does not speak its protocol."""
        return StreamBroken(
            f"Connection {self.name!r}: {why}.", code="upstream_malformed", connection=self.name
        )

    def broken(self, why: str = "the stream ended before its end marker") -> StreamBroken:
        """The error for a stream that stopped early."""
        return StreamBroken(f"Connection {self.name!r}: {why}.", connection=self.name)

    def error_for(self, status: int, headers: httpx.Headers, body: bytes) -> ProviderError:
        """The ProviderError that fits an upstream error response."""
        detail = upstream_message(body) or f"HTTP {status}"
        return status_error(self.name, status, detail, headers.get("retry-after"))


def status_error(
    connection: str, status: int, detail: str, retry_after: str | None = None
) -> ProviderError:
    """The ProviderError for an upstream HTTP ``status`` with the upstream's ``detail``."""
    where = f"Connection {connection!r}"
    common: dict[str, Any] = {"connection": connection, "upstream_status": status}
    if status in (401, 403):
        return UpstreamUnauthorized(
            f"{where} was refused by the upstream ({status}): {detail}. "
            "Check the connection's API key.",
            **common,
        )
    if status == 429:
        return UpstreamRateLimited(
            f"{where} is rate limited by the upstream: {detail}",
            headers={"Retry-After": retry_after} if retry_after else {},
            **common,
        )
    if status == 404:
        return UpstreamModelNotFound(f"{where}: not found upstream: {detail}", **common)
    if status in (400, 413, 422):
        return UpstreamBadRequest(f"{where} rejected the request: {detail}", **common)
    if status in (408, 504):
        return UpstreamTimeout(f"{where} timed out upstream: {detail}", **common)
    return ProviderError(f"{where} failed upstream ({status}): {detail}", **common)


def upstream_message(body: bytes) -> str:
    """The human message of an error body in any of the shapes upstreams use."""
    try:
        payload = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:300]
    if isinstance(payload, list) and payload:  # Gemini wraps errors in a list when streaming
        payload = payload[0]
    if not isinstance(payload, dict):
        return str(payload)[:300]
    error = payload.get("error", payload)
    if isinstance(error, dict):
        return str(error.get("message") or error.get("type") or error)[:300]
    return str(error)[:300]


async def _read_some(response: httpx.Response) -> bytes:
    body = b""
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) >= MAX_ERROR_BODY:
            break
    return body
