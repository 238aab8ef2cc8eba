"""The core steps: template, map, http_request (allow-list, address checks, limits),
wait and fail — each run through the real engine."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from stepkit import ALICE, Gauge, pipeline

from notewell.kernel.defaults.core_steps import address_refused, host_allowed
from notewell.kernel.pipelines import stepdocs


async def run_one(pipelines, uses: str, with_: dict, **step) -> object:
    return await pipelines.run(
        pipeline({"id": "s", "uses": uses, "with": with_, **step}), actor=ALICE
    )


# -- core.template ---------------------------------------------------------------------


async def test_template_fills_placeholders_and_keeps_escaped_braces(pipelines):
    run = await run_one(
        pipelines,
        "core.template",
        {
            "template": "{greeting}, {name}! {{literal}} {count} {data}",
            "values": {"greeting": "Hi", "name": "Ada", "count": 3, "data": {"a": [1]}},
        },
    )
    assert run.steps[0].outputs == {"text": 'Hi, Ada! {literal} 3 {"a": [1]}'}


async def test_template_never_reaches_into_values(pipelines):
    run = await run_one(
        pipelines, "core.template", {"template": "{name.__class__} {0}", "values": {"name": "x"}}
    )
    assert run.steps[0].outputs == {"text": "{name.__class__} {0}"}


async def test_template_with_a_missing_value_fails_with_its_code(pipelines):
    run = await run_one(pipelines, "core.template", {"template": "{who}", "values": {}})
    assert run.error["code"] == "template_missing_value"


# -- core.map ----------------------------------------------------------------------------


async def test_map_runs_a_step_per_item_in_order(pipelines):
    run = await run_one(
        pipelines,
        "core.map",
        {
            "step": "test.add",
            "items": [1, 2, 3],
            "item_input": "a",
            "args": {"b": 10},
        },
    )
    assert run.status == "succeeded"
    assert run.steps[0].outputs == {"results": [{"sum": 11}, {"sum": 12}, {"sum": 13}]}


async def test_map_keeps_to_its_concurrency_limit(pipelines):
    Gauge.peak = 0
    run = await run_one(
        pipelines, "core.map", {"step": "test.gauge", "items": list(range(8)), "concurrency": 2}
    )
    assert run.status == "succeeded"
    assert [r["item"] for r in run.steps[0].outputs["results"]] == list(range(8))
    assert Gauge.peak == 2


async def test_map_sends_heavy_steps_to_the_worker_pool(pipelines):
    run = await run_one(
        pipelines, "core.map", {"step": "test.crunch", "items": [10, 20], "item_input": "n"}
    )
    results = run.steps[0].outputs["results"]
    assert [r["total"] for r in results] == [285, 2470]
    assert results[0]["pid"] != __import__("os").getpid()


async def test_map_fails_on_the_first_failing_item_with_its_index(pipelines):
    run = await run_one(
        pipelines,
        "core.map",
        {
            "step": "core.fail",
            "items": ["nope"],
            "item_input": "message",
            "args": {"code": "item_refused"},
        },
    )
    assert run.error["code"] == "item_refused"
    assert "item 0: nope" in run.error["message"]


async def test_map_over_an_unknown_step_fails_clearly(pipelines):
    run = await run_one(pipelines, "core.map", {"step": "test.missing", "items": [1]})
    assert run.error["code"] == "unknown_step"


# -- core.http_request -------------------------------------------------------------------


@pytest.fixture
async def http_server() -> AsyncIterator[str]:
    """A tiny HTTP/1.1 server: /json answers JSON (echoing a POST body), /big 4 KiB."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        method, path = head.split(" ", 2)[:2]
        length = next(
            (
                int(line.split(":")[1])
                for line in head.split("\r\n")
                if line.lower().startswith("content-length:")
            ),
            0,
        )
        sent = (await reader.readexactly(length)).decode() if length else ""
        host = next(
            line.split(":", 1)[1].strip()
            for line in head.split("\r\n")
            if line.lower().startswith("host:")
        )
        if path == "/big":
            body, kind = b"x" * 4096, "text/plain"
        else:
            body = json.dumps({"method": method, "sent": sent, "host": host}).encode()
            kind = "application/json"
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: "
            + kind.encode()
            + b"\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
def allow_local(monkeypatch):
    monkeypatch.setenv("NOTEWELL_CORE__HTTP_ALLOWED_HOSTS", "127.0.0.1,localhost")
    monkeypatch.setenv("NOTEWELL_CORE__HTTP_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("NOTEWELL_CORE__HTTP_MAX_BYTES", "1024")


async def test_http_request_gets_and_posts_to_an_allowed_host(make_app, allow_local, http_server):
    async with make_app() as app:
        got = await run_one(
            app.kernel.pipelines, "core.http_request", {"url": f"{http_server}/json"}
        )
        posted = await run_one(
            app.kernel.pipelines,
            "core.http_request",
            {"url": f"{http_server}/json", "method": "POST", "body": {"q": 1}},
        )
    assert got.status == "succeeded", got.error
    assert got.steps[0].outputs["status"] == 200
    assert got.steps[0].outputs["data"]["method"] == "GET"
    assert got.steps[0].outputs["data"]["host"] == http_server.removeprefix("http://")
    assert json.loads(posted.steps[0].outputs["data"]["sent"]) == {"q": 1}


async def test_http_request_refuses_a_host_not_in_the_allow_list(pipelines):
    run = await run_one(pipelines, "core.http_request", {"url": "http://example.com/"})
    assert run.error["code"] == "host_not_allowed"


async def test_http_request_refuses_a_name_that_resolves_to_loopback(make_app, monkeypatch):
    monkeypatch.setenv("NOTEWELL_CORE__HTTP_ALLOWED_HOSTS", "localhost")
    async with make_app() as app:
        run = await run_one(
            app.kernel.pipelines, "core.http_request", {"url": "http://localhost:9/"}
        )
    assert run.error["code"] == "address_not_allowed"
    assert run.steps[0].attempts == 1


async def test_http_request_stops_reading_past_the_size_limit(make_app, allow_local, http_server):
    async with make_app() as app:
        run = await run_one(
            app.kernel.pipelines, "core.http_request", {"url": f"{http_server}/big"}
        )
    assert run.error["code"] == "response_too_large"


def test_host_allow_list_matches_exact_names_and_wildcard_subdomains():
    allowed = ["api.example.com", "*.corp.example"]
    assert host_allowed("API.example.com", allowed)
    assert host_allowed("a.b.corp.example", allowed)
    assert not host_allowed("corp.example", allowed)
    assert not host_allowed("evil-api.example.com", allowed)


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "127.0.0.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "::ffff:192.168.0.1",
        "0.0.0.0",
        "100.64.0.1",
    ],
)
def test_special_addresses_are_refused(address):
    assert address_refused(address)


def test_public_addresses_are_allowed():
    assert not address_refused("93.184.216.34")
    assert not address_refused("2606:2800:220:1:248:1893:25c8:1946")


# -- core.wait, core.fail ----------------------------------------------------------------


async def test_wait_reports_how_long_it_waited(pipelines):
    run = await run_one(pipelines, "core.wait", {"seconds": 0.01})
    assert run.steps[0].outputs == {"waited": 0.01}


async def test_fail_always_fails_with_the_given_code(pipelines):
    run = await run_one(pipelines, "core.fail", {"message": "stop here", "code": "stopped"})
    assert run.status == "failed"
    assert run.error["code"] == "stopped"
    assert run.error["message"] == "step 's' (core.fail) failed: stop here"


def test_the_steps_reference_is_current():
    assert stepdocs.DOCS.read_text() == stepdocs.render(), (
        "docs/steps.md is stale: run `python -m notewell.kernel.pipelines.stepdocs`"
    )
