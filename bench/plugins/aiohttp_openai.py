"""A bench-only plugin: the OpenAI-compatible provider with aiohttp as its HTTP client.

``bench/gateway.py --connection-type openai-aiohttp`` loads this folder as a plugin
folder and connects to the upstream through it, to measure what the HTTP client costs
(written when the providers plugin used httpx; now a bare client to compare its HTTP
layer with). Not a supported provider: errors are mapped coarsely.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from notewell.kernel.hookspecs import hookimpl
from notewell.plugins.providers.adapters.openai import OpenAIProvider
from notewell.plugins.providers.errors import UpstreamUnreachable


class AiohttpOpenAI(OpenAIProvider):
    """OpenAIProvider's protocol, aiohttp's client."""

    type = "openai-aiohttp"
    label = "OpenAI-compatible (aiohttp, bench only)"

    _session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self.auth_headers(),
                connector=aiohttp.TCPConnector(limit=100, limit_per_host=100),
                timeout=aiohttp.ClientTimeout(total=None, sock_read=self.config.read_timeout_s),
            )
        return self._session

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            async with self.session.request(method, self.base_url + path, **kwargs) as response:
                body = await response.read()
                if response.status >= 400:
                    raise self.error_for(response.status, response.headers, body)  # type: ignore[arg-type]
                return self.parse_json(body.decode())
        except aiohttp.ClientError as exc:
            raise UpstreamUnreachable(f"{self.name}: {exc}", connection=self.name) from None

    @contextlib.asynccontextmanager
    async def open_stream(self, method: str, path: str, **kwargs: Any) -> AsyncIterator[Any]:
        try:
            async with self.session.request(method, self.base_url + path, **kwargs) as response:
                if response.status >= 400:
                    raise self.error_for(
                        response.status,
                        response.headers,  # type: ignore[arg-type]
                        await response.read(),
                    )
                yield response
        except aiohttp.ClientError as exc:
            raise UpstreamUnreachable(f"{self.name}: {exc}", connection=self.name) from None

    async def lines(self, response: Any) -> AsyncIterator[str]:
        async for raw in response.content:
            yield raw.decode().rstrip("\r\n")


@hookimpl
def register_providers() -> dict[str, type[Any]]:
    return {AiohttpOpenAI.type: AiohttpOpenAI}
