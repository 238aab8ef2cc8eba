"""The admin API: users, approval, roles, deactivation, deletion, audit."""

from __future__ import annotations

import pytest

from notewell.kernel import hookimpl

USERS = "/api/v1/users"


async def _people(app, h, *emails):
    """Ada (the admin) plus a signed-up account per e-mail."""
    admin, ada = await h.signup(app, "ada@example.com", name="Ada")
    others = [await h.signup(app, email) for email in emails]
    return (admin, ada), others


def _admin_headers(h, client):
    return h.csrf(client)


async def test_admin_lists_and_searches_users_a_page_at_a_time(make_app, database_url, h):
    async with make_app(database_url=database_url) as app:
        (admin, _), _ = await _people(app, h, "bob@example.com", "cy@example.com",
                                      "dee@other.org")
        first = await (await admin.get(f"{USERS}?limit=2")).get_json()
        assert [u["email"] for u in first["items"]] == ["ada@example.com", "bob@example.com"]
        rest = await (await admin.get(f"{USERS}?limit=2&cursor={first['next_cursor']}")).get_json()
        assert [u["email"] for u in rest["items"]] == ["cy@example.com", "dee@other.org"]
        assert rest["next_cursor"] is None
        found = await (await admin.get(f"{USERS}?q=OTHER")).get_json()
        assert [u["email"] for u in found["items"]] == ["dee@other.org"]
        assert found["items"][0]["active"] is True
        wildcard = await (await admin.get(f"{USERS}?q=%25")).get_json()
        assert wildcard["items"] == []


async def test_bad_query_is_422(app, h):
    admin, _ = await h.signup(app, "ada@example.com")
    for query in ("limit=0", "limit=1000", "limit=x", "bogus=1"):
        await h.problem(await admin.get(f"{USERS}?{query}"), 422, "validation_failed")


async def test_non_admins_are_refused(make_app, h, monkeypatch):
    monkeypatch.setenv("NOTEWELL_DEFAULT_ROLE", "user")
    async with make_app() as app:
        _, others = await _people(app, h, "bob@example.com")
        bob, _ = others[0]
        for path in (USERS, "/api/v1/groups", "/api/v1/permissions", "/api/v1/audit"):
            await h.problem(await bob.get(path), 403, "permission_denied")


async def test_approving_a_pending_account_lets_it_in(make_app, database_url, h):
    async with make_app(database_url=database_url) as app:
        (admin, _), [(bob, body)] = await _people(app, h, "bob@example.com")
        await h.problem(await bob.get("/api/v1/auth/keys"), 403, "account_pending")
        response = await admin.post(f"{USERS}/{body['user']['id']}/approve",
                                    headers=h.csrf(admin))
        assert (await response.get_json())["role"] == "user"
        assert (await bob.get("/api/v1/auth/keys")).status_code == 200
        audit = await (await admin.get("/api/v1/audit?type=user_approved")).get_json()
        assert [e["subject_id"] for e in audit["items"]] == [body["user"]["id"]]


async def test_role_change_takes_effect_at_once_and_is_audited(make_app, database_url, h):
    async with make_app(database_url=database_url) as app:
        (admin, _), [(bob, body)] = await _people(app, h, "bob@example.com")
        bob_id = body["user"]["id"]
        await h.problem(await bob.get(USERS), 403, "account_pending")
        response = await admin.patch(f"{USERS}/{bob_id}", json={"role": "admin", "name": "Bob"},
                                     headers=h.csrf(admin))
        assert (await response.get_json())["role"] == "admin"
        assert (await bob.get(USERS)).status_code == 200
        audit = await (await admin.get("/api/v1/audit?type=role_changed")).get_json()
        assert audit["items"][0]["data"] == {"old": "pending", "new": "admin"}


@pytest.mark.parametrize(
    ("payload", "code"),
    [({"role": "superuser"}, "validation_failed"), ({"active": "maybe"}, "validation_failed"),
     ({"email": "x@y.z"}, "validation_failed"), ({"name": "n" * 201}, "validation_failed")],
)
async def test_bad_user_changes_are_422_and_change_nothing(app, h, payload, code):
    admin, ada = await h.signup(app, "ada@example.com", name="Ada")
    response = await admin.patch(f"{USERS}/{ada['user']['id']}", json=payload,
                                 headers=h.csrf(admin))
    await h.problem(response, 422, code)
    me = await (await admin.get("/api/v1/auth/me")).get_json()
    assert (me["role"], me["name"]) == ("admin", "Ada")


async def test_the_last_admin_cannot_be_demoted_deactivated_or_deleted(app, h):
    admin, ada = await h.signup(app, "ada@example.com")
    ada_id = ada["user"]["id"]
    for payload in ({"role": "user"}, {"active": False}):
        response = await admin.patch(f"{USERS}/{ada_id}", json=payload, headers=h.csrf(admin))
        await h.problem(response, 409, "last_admin")
    await h.problem(await admin.delete(f"{USERS}/{ada_id}", headers=h.csrf(admin)), 409,
                    "last_admin")


async def test_unknown_user_is_404(app, h):
    admin, _ = await h.signup(app, "ada@example.com")
    for call in (admin.patch(f"{USERS}/nobody", json={"name": "x"}, headers=h.csrf(admin)),
                 admin.delete(f"{USERS}/nobody", headers=h.csrf(admin)),
                 admin.post(f"{USERS}/nobody/approve", headers=h.csrf(admin))):
        await h.problem(await call, 404, "user_not_found")


class Keeper:
    """A plugin that keeps rows per user and deletes them when asked."""

    __name__ = "keeper"

    def __init__(self, fail: bool = False) -> None:
        self.deleted: list[str] = []
        self.fail = fail

    @hookimpl
    async def on_user_deleted(self, user_id):
        if self.fail:
            raise RuntimeError("disk on fire")
        self.deleted.append(user_id)


async def test_deleting_a_user_asks_plugins_then_removes_everything(make_app, database_url, h):
    keeper = Keeper()
    async with make_app(database_url=database_url, extra_plugins=(keeper,)) as app:
        events = []

        async def seen(event):
            events.append(event)

        app.kernel.bus.subscribe(seen, "auth.user_deleted")
        (admin, _), [(_, bob)] = await _people(app, h, "bob@example.com")
        bob_id = bob["user"]["id"]
        await app.test_client().post("/api/v1/auth/keys", json={"name": "k"},
                                     headers=h.bearer(bob["token"]))
        response = await admin.delete(f"{USERS}/{bob_id}", headers=h.csrf(admin))
        assert response.status_code == 204
        assert keeper.deleted == [bob_id]
        stale = await app.test_client().get("/api/v1/auth/me", headers=h.bearer(bob["token"]))
        assert stale.status_code == 401
        users = await (await admin.get(USERS)).get_json()
        assert [u["email"] for u in users["items"]] == ["ada@example.com"]
        audit = await (await admin.get("/api/v1/audit?type=user_deleted")).get_json()
        assert audit["items"][0]["subject_id"] == bob_id
        await app.kernel.bus.stop()  # drains subscribers
        assert [e.data for e in events] == [{"user_id": bob_id}]


async def test_a_plugin_failing_to_delete_keeps_the_user(make_app, h):
    async with make_app(extra_plugins=(Keeper(fail=True),)) as app:
        (admin, _), [(_, bob)] = await _people(app, h, "bob@example.com")
        response = await admin.delete(f"{USERS}/{bob['user']['id']}", headers=h.csrf(admin))
        await h.problem(response, 500, "user_delete_failed")
        me = await app.test_client().get("/api/v1/auth/me", headers=h.bearer(bob["token"]))
        assert me.status_code == 200


async def test_audit_log_records_security_events_newest_first(app, h):
    admin, _ = await h.signup(app, "ada@example.com")
    await app.test_client().post("/api/v1/auth/signin",
                                 json={"email": "ada@example.com", "password": "wrong"})
    await app.test_client().post("/api/v1/auth/signin",
                                 json={"email": "ada@example.com", "password": h.password})
    page = await (await admin.get("/api/v1/audit?limit=2")).get_json()
    assert [e["type"] for e in page["items"]] == ["signin", "signin_failed"]
    rest = await (await admin.get(f"/api/v1/audit?cursor={page['next_cursor']}")).get_json()
    assert [e["type"] for e in rest["items"]] == ["signup"]
    assert all("password" not in str(e["data"]) for e in page["items"] + rest["items"])
