"""The ``core`` steps: generic building blocks, so pipelines are useful before any feature.

``core.template`` fills a text template, ``core.map`` runs a step over each item of a
list, ``core.http_request`` calls an allowed host, ``core.wait`` waits and ``core.fail``
always fails. Settings (``NOTEWELL_CORE__<NAME>``): ``http_allowed_hosts`` (comma
separated; ``*.example.com`` allows sub-domains), ``http_allow_private``,
``http_max_bytes``, ``http_timeout``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import socket
import ssl
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, field_validator

from notewell.kernel.hookspecs import hookimpl
from notewell.kernel.pipelines.errors import RemoteStepError, StepError
from notewell.kernel.pipelines.spec import STEP_TYPE
from notewell.kernel.pipelines.step import Step, StepContext
from notewell.kernel.settings import NameList, PluginSettings

if TYPE_CHECKING:
    import httpx  # loaded when an http_request step first runs


class CoreSettings(PluginSettings):
    """Settings of the core steps (``NOTEWELL_CORE__…``)."""

    section = "core"

    http_allowed_hosts: NameList = Field(
        default_factory=list,
        description="Hosts core.http_request may call (comma separated; *.example.com "
        "allows sub-domains). Empty: none.",
    )
    http_allow_private: bool = Field(
        False,
        description="Let core.http_request reach private, loopback and link-local addresses.",
    )
    http_max_bytes: int = Field(1024 * 1024, ge=1, description="Largest response body read.")
    http_timeout: float = Field(10.0, gt=0, le=300, description="Longest request, in seconds.")

    @field_validator("http_allowed_hosts", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value


# -- core.template -------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


class TemplateStep(Step):
    """Fill ``{name}`` placeholders in ``template`` from ``values``.

    ``{{`` and ``}}`` write literal braces. Non-string values are written as JSON. Only
    plain names are placeholders (no attribute access or formatting), so a template
    from a user cannot reach into the values' objects. A name missing from ``values``
    fails the step with ``template_missing_value``.
    """

    name = "core.template"

    class Inputs(BaseModel):
        template: str = Field(max_length=1_000_000, description="Text with {name} placeholders.")
        values: dict[str, Any] = Field(default_factory=dict, description="Values by name.")

    class Outputs(BaseModel):
        text: str = Field(description="The filled-in text.")

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        missing: list[str] = []

        def fill(match: re.Match[str]) -> str:
            token = match.group(0)
            if token in ("{{", "}}"):
                return token[0]
            name = match.group(1)
            if name not in inputs.values:
                missing.append(name)
                return ""
            value = inputs.values[name]
            return value if isinstance(value, str) else json.dumps(value)

        text = _PLACEHOLDER.sub(fill, inputs.template)
        if missing:
            raise StepError(
                f"no value for {', '.join(sorted(set(missing)))}",
                code="template_missing_value",
                retryable=False,
            )
        return self.Outputs(text=text)


# -- core.map ------------------------------------------------------------------------------


class MapStep(Step):
    """Run the step ``step`` once per item of ``items``, at most ``concurrency`` at a time.

    Each call gets ``args`` plus the item under the input named ``item_input``; the
    outputs come back in the order of ``items``. The first item that fails fails the
    step (the others are cancelled); its error names the item's index. Heavy steps go
    to the worker pool as usual. Runs inline only (it needs the kernel).
    """

    name = "core.map"

    class Inputs(BaseModel):
        step: str = Field(pattern=STEP_TYPE, description="The step to run, e.g. `core.template`.")
        items: list[Any] = Field(max_length=10_000, description="One call per item.")
        item_input: str = Field("item", description="The input of `step` that gets the item.")
        args: dict[str, Any] = Field(
            default_factory=dict, description="Inputs given to every call."
        )
        concurrency: int = Field(4, ge=1, le=64, description="Calls running at once, at most.")

    class Outputs(BaseModel):
        results: list[dict[str, Any]] = Field(description="Each call's outputs, in item order.")

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        if ctx.kernel is None:
            raise StepError(
                "core.map needs the kernel; run it with executor: inline",
                code="needs_kernel",
                retryable=False,
            )
        limit = asyncio.Semaphore(inputs.concurrency)

        async def one(index: int, item: Any) -> dict[str, Any]:
            async with limit:
                ctx.check_cancelled()
                arguments = {**inputs.args, inputs.item_input: item}
                try:
                    result: dict[str, Any] = await ctx.kernel.pipelines.call_step(
                        inputs.step, arguments, ctx, step_id=f"{ctx.step_id}[{index}]"
                    )
                except (StepError, RemoteStepError) as exc:
                    raise StepError(
                        f"item {index}: {exc.message}",
                        code=exc.code or "map_item_failed",
                        retryable=exc.retryable,
                    ) from exc
                return result

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(i, item)) for i, item in enumerate(inputs.items)]
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
        return self.Outputs(results=[task.result() for task in tasks])


# -- core.http_request ---------------------------------------------------------------------


class HttpRequestStep(Step):
    """Call ``url`` with GET or POST, on a host in ``http_allowed_hosts`` only.

    The host name is resolved first; private, loopback, link-local and other special
    addresses are refused unless ``http_allow_private`` is set, and the connection goes
    to the address that was checked (no second lookup to rebind). Redirects are not
    followed. The body is read up to ``http_max_bytes`` (else ``response_too_large``)
    within ``timeout`` seconds (at most ``http_timeout``; else ``http_timeout``).
    ``body`` is sent as JSON; a JSON response is parsed into ``data``.
    """

    name = "core.http_request"

    class Inputs(BaseModel):
        url: str = Field(max_length=2048, description="An http:// or https:// URL.")
        method: Literal["GET", "POST"] = "GET"
        headers: dict[str, str] = Field(default_factory=dict, description="Request headers.")
        body: Any = Field(None, description="Sent as a JSON body when given.")
        timeout: float | None = Field(
            None, gt=0, le=300, description="Seconds, at most the `http_timeout` setting."
        )

    class Outputs(BaseModel):
        status: int = Field(description="The HTTP status code.")
        headers: dict[str, str] = Field(description="Response headers.")
        text: str = Field(description="The body as text.")
        data: Any = Field(None, description="The body parsed, when it is JSON.")

    async def warm_up(self) -> None:
        self.ssl = await asyncio.to_thread(ssl.create_default_context)

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        import httpx

        settings = _core_settings(ctx)
        url = _parse_url(inputs.url)
        if not host_allowed(url.host, settings.http_allowed_hosts):
            raise StepError(
                f"{url.host} is not in http_allowed_hosts", code="host_not_allowed", retryable=False
            )
        limit = min(inputs.timeout or settings.http_timeout, settings.http_timeout)
        try:
            async with asyncio.timeout(limit):
                address = await _checked_address(url, settings.http_allow_private)
                return await self._fetch(url, address, inputs, settings.http_max_bytes, limit)
        except TimeoutError:
            raise StepError(
                f"no complete answer from {url.host} within {limit:g}s", code="http_timeout"
            ) from None
        except httpx.HTTPError as exc:
            raise StepError(f"{url.host}: {type(exc).__name__}: {exc}", code="http_error") from None

    async def _fetch(
        self, url: httpx.URL, address: str, inputs: Inputs, max_bytes: int, timeout: float
    ) -> Outputs:
        import httpx

        headers = {**inputs.headers, "Host": url.netloc.decode()}
        target = url.copy_with(host=address)
        extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
        async with httpx.AsyncClient(
            verify=self.ssl, timeout=timeout, trust_env=False, follow_redirects=False
        ) as client:
            request = client.build_request(
                inputs.method, target, headers=headers, json=inputs.body, extensions=extensions
            )
            response = await client.send(request, stream=True)
            try:
                body = await _read_limited(response, max_bytes)
            finally:
                await response.aclose()
        text = body.decode(response.encoding or "utf-8", errors="replace")
        parsed = None
        if "json" in response.headers.get("content-type", ""):
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
        return self.Outputs.model_validate(
            {
                "status": response.status_code,
                "headers": dict(response.headers),
                "text": text,
                "data": parsed,
            }
        )


def _core_settings(ctx: StepContext) -> CoreSettings:
    if ctx.kernel is None:
        raise StepError(
            "core.http_request needs the server's settings; run it inline",
            code="needs_kernel",
            retryable=False,
        )
    settings: CoreSettings = ctx.kernel.settings.plugin("core")
    return settings


def _parse_url(text: str) -> httpx.URL:
    import httpx

    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise StepError(
            f"{text!r} is not a URL: {exc}", code="invalid_url", retryable=False
        ) from None
    if url.scheme not in ("http", "https") or not url.host:
        raise StepError(
            "only http:// and https:// URLs with a host can be called",
            code="invalid_url",
            retryable=False,
        )
    return url


def host_allowed(host: str, allowed: list[str]) -> bool:
    """Whether ``host`` is in the allow-list (``*.example.com`` covers sub-domains)."""
    host = host.lower().rstrip(".")
    for entry in allowed:
        if entry.startswith("*.") and host.endswith(entry[1:]):
            return True
        if host == entry:
            return True
    return False


def address_refused(address: str) -> bool:
    """Whether ``address`` is private, loopback, link-local or otherwise not public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


async def _checked_address(url: httpx.URL, allow_private: bool) -> str:
    port = url.port or (443 if url.scheme == "https" else 80)
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(url.host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise StepError(f"cannot resolve {url.host}: {exc.strerror}", code="dns_failed") from None
    addresses = [str(info[4][0]) for info in found]
    if not addresses:
        raise StepError(f"{url.host} has no address", code="dns_failed")
    refused = [address for address in addresses if address_refused(address)]
    if refused and not allow_private:
        raise StepError(
            f"{url.host} resolves to {refused[0]}, a private or local address",
            code="address_not_allowed",
            retryable=False,
        )
    return addresses[0]


async def _read_limited(response: httpx.Response, max_bytes: int) -> bytes:
    body = bytearray()
    async for piece in response.aiter_bytes():
        body.extend(piece)
        if len(body) > max_bytes:
            raise StepError(
                f"the response is larger than {max_bytes} bytes",
                code="response_too_large",
                retryable=False,
            )
    return bytes(body)


# -- core.wait, core.fail ------------------------------------------------------------------


class WaitStep(Step):
    """Wait ``seconds`` (cancellable), then report how long it waited."""

    name = "core.wait"

    class Inputs(BaseModel):
        seconds: float = Field(ge=0, le=3600, description="How long to wait.")

    class Outputs(BaseModel):
        waited: float = Field(description="The seconds waited.")

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        await asyncio.sleep(inputs.seconds)
        return self.Outputs(waited=inputs.seconds)


class FailStep(Step):
    """Always fail with ``message`` and the error code ``code`` (for tests and examples)."""

    name = "core.fail"

    class Inputs(BaseModel):
        message: str = Field("failed on purpose", description="The error message.")
        code: str = Field(
            "step_failed", pattern=r"^[a-z][a-z0-9_]{0,63}$", description="The error code."
        )

    class Outputs(BaseModel):
        pass

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        raise StepError(inputs.message, code=inputs.code)


@hookimpl
def register_steps() -> list[type[Step]]:
    return [TemplateStep, MapStep, HttpRequestStep, WaitStep, FailStep]


@hookimpl
def register_settings() -> type[CoreSettings]:
    return CoreSettings
