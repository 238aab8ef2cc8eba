"""Every route declares who may call it, and every non-public one refuses strangers.

Builds the full app (every installed plugin), walks ``app.url_map`` and, for each rule:
its view has a policy; if that policy is not public, each of its methods answers 401
(problem+json; OpenAI's error shape under ``/v1``) to a caller without credentials, with
dummy values in the URL.
"""

from __future__ import annotations

from typing import Any

from notewell.kernel.policy import policy_of

SKIPPED_METHODS = {"HEAD", "OPTIONS"}


def _dummy_path(rule: Any) -> str:
    values = {}
    for name, converter in rule._converters.items():
        kind = type(converter).__name__
        values[name] = 1 if kind in ("IntegerConverter", "FloatConverter") else "x"
    return rule.build(values, append_unknown=False)[1]


async def test_every_route_has_a_policy_and_non_public_ones_answer_401(make_app):
    async with make_app() as app:
        rules = list(app.url_map.iter_rules())
        assert any(rule.rule.startswith("/api/v1/auth/") for rule in rules), "auth not loaded"
        unpoliced = [rule.rule for rule in rules
                     if policy_of(app.view_functions.get(rule.endpoint)) is None]
        assert unpoliced == [], f"routes without a policy: {unpoliced}"
        assert app.kernel.unpoliced_routes == []

        client = app.test_client()
        failures = []
        checked = 0
        for rule in rules:
            policy = policy_of(app.view_functions[rule.endpoint])
            if not policy.authenticated:
                continue
            path = _dummy_path(rule)
            for method in sorted(set(rule.methods or ()) - SKIPPED_METHODS):
                response = await client.open(path, method=method, json={})
                checked += 1
                body = await response.get_json(force=True, silent=True) or {}
                # problem+json, or OpenAI's {"error": {...}} shape under /v1
                code = body.get("code") or (body.get("error") or {}).get("code")
                if response.status_code != 401 or code != "not_authenticated":
                    failures.append(f"{method} {rule.rule} -> {response.status_code} {body}")
        assert failures == []
        assert checked > 10
