"""Groups, memberships and grants, and the decisions they lead to."""

from __future__ import annotations

from quart import Blueprint

from notewell.kernel import hookimpl, policy

GROUPS = "/api/v1/groups"
PERMISSIONS = "/api/v1/permissions"


class CodeRoute:
    """A feature route guarded by the action ``code.execute``."""

    @hookimpl
    def register_routes(self):
        bp = Blueprint("code_probe", __name__, url_prefix="/api/v1/code-probe")

        @bp.post("/run")
        @policy.requires("code.execute")
        async def run():
            return {"ran": True}

        return bp


async def _setup(app, h):
    admin, _ = await h.signup(app, "ada@example.com")
    _, bob = await h.signup(app, "bob@example.com")
    await admin.post(f"/api/v1/users/{bob['user']['id']}/approve", headers=h.csrf(admin))
    return admin, bob


async def test_group_lifecycle(make_app, database_url, h):
    async with make_app(database_url=database_url) as app:
        admin, bob = await _setup(app, h)
        csrf = h.csrf(admin)
        created = await admin.post(GROUPS, json={"name": "eng", "description": "Engineers"},
                                   headers=csrf)
        assert created.status_code == 201
        group = await created.get_json()
        await h.problem(await admin.post(GROUPS, json={"name": "eng"}, headers=csrf), 409,
                        "group_exists")
        member = f"{GROUPS}/{group['id']}/members/{bob['user']['id']}"
        assert (await admin.put(member, headers=csrf)).status_code == 204
        assert (await admin.put(member, headers=csrf)).status_code == 204
        detail = await (await admin.get(f"{GROUPS}/{group['id']}")).get_json()
        assert [m["email"] for m in detail["members"]] == ["bob@example.com"]
        me = await app.test_client().get("/api/v1/auth/me", headers=h.bearer(bob["token"]))
        assert (await me.get_json())["groups"] == [{"id": group["id"], "name": "eng"}]
        renamed = await admin.patch(f"{GROUPS}/{group['id']}", json={"name": "engineering"},
                                    headers=csrf)
        assert (await renamed.get_json())["name"] == "engineering"
        listed = await (await admin.get(GROUPS)).get_json()
        assert [(g["name"], g["member_count"]) for g in listed["items"]] == [("engineering", 1)]
        assert (await admin.delete(member, headers=csrf)).status_code == 204
        assert (await admin.delete(f"{GROUPS}/{group['id']}", headers=csrf)).status_code == 204
        await h.problem(await admin.get(f"{GROUPS}/{group['id']}"), 404, "group_not_found")


async def test_group_bad_input(app, h):
    admin, bob = await _setup(app, h)
    csrf = h.csrf(admin)
    await h.problem(await admin.post(GROUPS, json={"name": ""}, headers=csrf), 422,
                    "validation_failed")
    await h.problem(await admin.put(f"{GROUPS}/nope/members/{bob['user']['id']}",
                                    headers=csrf), 404, "group_not_found")
    group = await (await admin.post(GROUPS, json={"name": "g"}, headers=csrf)).get_json()
    await h.problem(await admin.put(f"{GROUPS}/{group['id']}/members/nobody", headers=csrf),
                    404, "user_not_found")


async def test_default_deny_and_grants_to_users_and_groups(make_app, monkeypatch, h):
    monkeypatch.setenv("NOTEWELL_AUTH__DEFAULT_DENY", '["code.execute"]')
    async with make_app(extra_plugins=(CodeRoute(),)) as app:
        admin, bob = await _setup(app, h)
        csrf, bob_auth = h.csrf(admin), h.bearer(bob["token"])
        run = "/api/v1/code-probe/run"
        await h.problem(await app.test_client().post(run, headers=bob_auth), 403,
                        "permission_denied")
        assert (await admin.post(run, headers=csrf)).status_code == 200
        group = await (await admin.post(GROUPS, json={"name": "coders"}, headers=csrf)).get_json()
        await admin.put(f"{GROUPS}/{group['id']}/members/{bob['user']['id']}", headers=csrf)
        grant = await admin.post(PERMISSIONS, headers=csrf, json={
            "action": "code.execute", "resource_type": "*", "group_id": group["id"]})
        assert grant.status_code == 201
        assert (await app.test_client().post(run, headers=bob_auth)).status_code == 200
        deny = await admin.post(PERMISSIONS, headers=csrf, json={
            "action": "code.execute", "resource_type": "*", "user_id": bob["user"]["id"],
            "allow": False})
        await h.problem(await app.test_client().post(run, headers=bob_auth), 403,
                        "permission_denied")
        deny_id = (await deny.get_json())["id"]
        listed = await (await admin.get(PERMISSIONS)).get_json()
        assert len(listed["items"]) == 2
        assert (await admin.delete(f"{PERMISSIONS}/{deny_id}", headers=csrf)).status_code == 204
        assert (await app.test_client().post(run, headers=bob_auth)).status_code == 200
        await h.problem(await admin.delete(f"{PERMISSIONS}/{deny_id}", headers=csrf), 404,
                        "permission_not_found")


async def test_resource_grants_through_the_hook(make_app, monkeypatch, h):
    monkeypatch.setenv("NOTEWELL_AUTH__DEFAULT_DENY", '["model"]')
    async with make_app() as app:
        admin, bob = await _setup(app, h)
        await admin.post(PERMISSIONS, headers=h.csrf(admin), json={
            "action": "use", "resource_type": "model", "resource_id": "small",
            "user_id": bob["user"]["id"]})
        actor = await app.kernel.plugins.afirst(
            "actor_from_request", request=_request(h.bearer(bob["token"])))

        async def allowed(resource):
            return await app.kernel.plugins.afirst(
                "permission_allowed", actor=actor, action="use", resource=resource)

        assert await allowed(("model", "small")) is True
        assert await allowed("model:large") is False
        assert await allowed(None) is True


async def test_bad_grants_are_rejected(app, h):
    admin, bob = await _setup(app, h)
    csrf = h.csrf(admin)
    both = {"action": "x", "resource_type": "y", "user_id": bob["user"]["id"], "group_id": "g"}
    await h.problem(await admin.post(PERMISSIONS, json=both, headers=csrf), 422, "one_grantee")
    neither = {"action": "x", "resource_type": "y"}
    await h.problem(await admin.post(PERMISSIONS, json=neither, headers=csrf), 422,
                    "one_grantee")
    ghost = {"action": "x", "resource_type": "y", "user_id": "nobody"}
    await h.problem(await admin.post(PERMISSIONS, json=ghost, headers=csrf), 404,
                    "user_not_found")
    assert (await (await admin.get(PERMISSIONS)).get_json())["items"] == []


def _request(headers):
    from werkzeug.datastructures import Headers

    from notewell.kernel.http import RequestInfo

    return RequestInfo(headers=Headers(headers), path="/api/v1/x")


class Veto:
    """Another plugin that answers ``permission_allowed`` before auth does."""

    @hookimpl(tryfirst=True)
    def permission_allowed(self, actor, action, resource):
        return False if action == "code.execute" else None


async def test_a_plugin_answering_first_overrides_the_grants(make_app, h):
    async with make_app(extra_plugins=(CodeRoute(), Veto())) as app:
        admin, _ = await _setup(app, h)
        run = "/api/v1/code-probe/run"
        await h.problem(await admin.post(run, headers=h.csrf(admin)), 403, "permission_denied")
        assert (await admin.get("/api/v1/users")).status_code == 200
