"""What every HTTP provider shares: one aiohttp session per connection, error mapping and
the two stream framings upstreams use (server-sent events and newline-delimited JSON)."""

from __future__ import annotations

import codecs
import contextlib
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from pydantic_core import from_json, to_json

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

if TYPE_CHECKING:
    import aiohttp
    from yarl import URL

MAX_ERROR_BODY = 64 * 1024
"""Bytes of an error body read to find the upstream's message."""

POOL_SIZE = 128
"""Open connections a provider keeps to its upstream (all kept alive between requests)."""

MAX_CACHED_URLS = 256
"""Parsed request URLs a provider keeps (paths are few: a model's name may be one part)."""

KEEPALIVE_S = 60.0
"""How long an idle upstream connection stays open for the next request."""


def _to_json(value: Any) -> str:
    """Request bodies' JSON, by pydantic-core (several times ``json.dumps``'s speed)."""
    return to_json(value).decode()


class HttpProvider(Provider):
    """A provider that talks HTTP to ``base_url`` through one ``aiohttp.ClientSession``."""

    def __init__(self, config: ConnectionConfig) -> None:
        self.config = config
        self.name = config.name
        self.base_url = (config.base_url or self.default_base_url or "").rstrip("/")
        self._session: aiohttp.ClientSession | None = None
        self._proxy: str | None = None
        self._urls: dict[str, URL] = {}

    def auth_headers(self) -> dict[str, str]:
        """Headers that carry the API key; the default sends none."""
        return {}

    @property
    def session(self) -> aiohttp.ClientSession:
        """The connection's session, made on first use (inside the running loop)."""
        if self._session is None or self._session.closed:
            import aiohttp  # loaded with the first session (not at start-up)

            timeout = aiohttp.ClientTimeout(
                total=None,
                connect=self.config.connect_timeout_s + self.config.read_timeout_s,
                sock_connect=self.config.connect_timeout_s,
                sock_read=self.config.read_timeout_s,
            )
            connector = aiohttp.TCPConnector(limit=POOL_SIZE, keepalive_timeout=KEEPALIVE_S)
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers=self.auth_headers(),
                timeout=timeout,
                json_serialize=_to_json,
            )
            self._proxy = env_proxy(self.base_url)
        return self._session

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def url(self, path: str) -> URL:
        """The absolute URL of ``path`` (which starts with "/") under ``base_url``, parsed
        once per path (aiohttp would parse the string again for every request)."""
        url = self._urls.get(path)
        if url is None:
            from yarl import URL  # aiohttp's, loaded with it

            if len(self._urls) >= MAX_CACHED_URLS:
                self._urls.clear()
            url = self._urls[path] = URL(self.base_url + path)
        return url

    # -- plain requests --------------------------------------------------------------

    async def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one request and return its JSON body; upstream errors become ProviderErrors."""
        with self.translate_errors():
            async with self.session.request(
                method, self.url(path), proxy=self._proxy, **kwargs
            ) as response:
                body = await response.read()
        if response.status >= 400:
            raise self.error_for(response.status, response.headers, body)
        try:
            return from_json(body)
        except ValueError:
            raise self.malformed("the upstream's answer is not JSON") from None

    @contextlib.asynccontextmanager
    async def open_stream(
        self, method: str, path: str, **kwargs: Any
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Open a streamed response; leaving the block closes it (and so the upstream)."""
        with self.translate_errors():
            response = await self.session.request(
                method, self.url(path), proxy=self._proxy, **kwargs
            )
        try:
            if response.status >= 400:
                with self.translate_errors():
                    body = await _read_some(response)
                raise self.error_for(response.status, response.headers, body)
            yield response
        finally:
            if response.content.at_eof():
                response.release()  # read to its end: the connection goes back to the pool
            else:
                response.close()  # left early: drop the connection, so the upstream stops

    # -- framing ---------------------------------------------------------------------

    async def sse_events(self, response: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, str]]:
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

    async def ndjson(self, response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
        """Yield each JSON object of a newline-delimited JSON stream."""
        async for line in self.lines(response):
            if line.strip():
                yield self.parse_json(line)

    async def lines(self, response: aiohttp.ClientResponse) -> AsyncIterator[str]:
        """The response's lines (ended by "\\n" or "\\r\\n", of any length); a dropped
        connection becomes ``upstream_stream_broken``."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pending = ""
        with self.translate_errors():
            async for chunk in response.content.iter_any():
                *complete, pending = (pending + decoder.decode(chunk)).split("\n")
                for line in complete:
                    yield line[:-1] if line.endswith("\r") else line
        pending += decoder.decode(b"", final=True)
        if pending:
            yield pending[:-1] if pending.endswith("\r") else pending

    def parse_json(self, text: str) -> Any:
        """Parse one JSON payload of a stream; garbage becomes ``upstream_malformed``."""
        try:
            return from_json(text)
        except ValueError:
            raise self.malformed(
                f"the upstream sent something that is not JSON: {text[:80]!r}"
            ) from None

    # -- errors ----------------------------------------------------------------------

    @contextlib.contextmanager
    def translate_errors(self) -> Any:
        """Turn aiohttp's transport errors into ProviderErrors naming this connection."""
        import aiohttp  # loaded with the first session (not at start-up)

        try:
            yield
        except TimeoutError as exc:  # aiohttp's timeouts are TimeoutErrors too
            raise UpstreamTimeout(
                f"Connection {self.name!r} timed out ({type(exc).__name__}).", connection=self.name
            ) from None
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamUnreachable(
                f"Connection {self.name!r} could not reach {self.base_url}: {exc or type(exc)}",
                connection=self.name,
            ) from None
        except (
            aiohttp.ServerDisconnectedError,
            aiohttp.ClientPayloadError,
            aiohttp.ClientOSError,
            aiohttp.ClientResponseError,
        ) as exc:
            raise StreamBroken(
                f"Connection {self.name!r} dropped the response before it ended: {exc}",
                connection=self.name,
            ) from None
        except aiohttp.ClientError as exc:
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

    def error_for(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        """The ProviderError that fits an upstream error response."""
        detail = upstream_message(body) or f"HTTP {status}"
        return status_error(self.name, status, detail, headers.get("retry-after"))


def env_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY``, ``NO_PROXY``…), as
    httpx honoured it. Read once per session: aiohttp's ``trust_env`` would read it, and
    the netrc file, on every request."""
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname or urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


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
        payload = from_json(body)
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


async def _read_some(response: aiohttp.ClientResponse) -> bytes:
    body = b""
    while len(body) < MAX_ERROR_BODY:
        chunk = await response.content.read(MAX_ERROR_BODY - len(body))
        if not chunk:
            break
        body += chunk
    return body
