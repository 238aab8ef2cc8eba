"""The plugin system: discovery, isolation, run-time switching, settings, commands, hooks."""

from __future__ import annotations

import textwrap

import click
import pytest
from click.testing import CliRunner
from quart import Blueprint, Response

from notewell.kernel import NotFound, hookimpl, policy
from notewell.kernel.app import create_app
from notewell.kernel.errors import StartupError
from notewell.kernel.settings import PluginSettings
from notewell.testing.actors import HeaderActors, as_actor

ADMIN = as_actor("root", "admin")


class Greeter:
    """A well-behaved plugin with a route, settings, a command and lifecycle hooks."""

    __name__ = "greeter"

    def __init__(self) -> None:
        self.events: list[str] = []

    @hookimpl
    def register_routes(self):
        bp = Blueprint("greeter", __name__)

        @bp.get("/greet")
        @policy.public
        async def greet():
            from notewell.kernel.app import current_kernel

            return {"greeting": current_kernel().settings.plugin("greeter").greeting}

        @bp.get("/greet/missing")
        @policy.public
        async def missing():
            raise NotFound("No such greeting.", code="greeting_not_found")

        return bp

    @hookimpl
    def register_settings(self):
        class GreeterSettings(PluginSettings):
            section = "greeter"
            greeting: str = "hello"
            repeat: int = 1

        return GreeterSettings

    @hookimpl
    def register_commands(self):
        @click.command("greet")
        def greet_command():
            """Print a greeting."""
            click.echo("hello from a plugin command")

        return [greet_command]

    @hookimpl
    def on_startup(self, app):
        self.events.append("startup")

    @hookimpl
    def on_shutdown(self, app):
        self.events.append("shutdown")


class Broken:
    """Raises in every hook it implements."""

    __name__ = "broken"

    @hookimpl
    def register_routes(self):
        raise RuntimeError("boom in register_routes")


class CustomErrors:
    """Renders errors of its own routes in its own shape."""

    __name__ = "custom_errors"

    @hookimpl
    def response_from_error(self, request, error):
        if request.path.startswith("/greet"):
            return Response(f"greeter says: {error.code}", status=error.status)
        return None


@pytest.fixture
def plugins():
    return [HeaderActors()]


async def test_plugin_route_settings_and_lifecycle(make_app, monkeypatch):
    monkeypatch.setenv("NOTEWELL_GREETER__GREETING", "bonjour")
    greeter = Greeter()
    async with make_app(extra_plugins=(greeter,)) as app:
        response = await app.test_client().get("/greet")
        assert (await response.get_json()) == {"greeting": "bonjour"}
        assert greeter.events == ["startup"]
    assert greeter.events == ["startup", "shutdown"]


def test_invalid_plugin_setting_stops_start_up_naming_the_variable(settings, monkeypatch):
    monkeypatch.setenv("NOTEWELL_GREETER__REPEAT", "many")
    with pytest.raises(StartupError, match="NOTEWELL_GREETER__REPEAT"):
        create_app(settings, plugins=[Greeter()])


async def test_plugin_raising_in_a_hook_is_isolated(make_app):
    async with make_app(extra_plugins=(Broken(), Greeter())) as app:
        client = app.test_client()
        assert (await client.get("/greet")).status_code == 200
        listing = await (await client.get("/api/v1/plugins", headers=ADMIN)).get_json()
        broken = next(p for p in listing["plugins"] if p["name"] == "broken")
        assert broken["failed_hooks"] == ["register_routes"]
        assert "boom in register_routes" in broken["error"]


async def test_plugin_failing_to_import_is_shown_failed_and_server_serves(make_app, tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "bad_import.py").write_text("import a_module_that_does_not_exist\n")
    async with make_app(plugin_dirs=[folder]) as app:
        client = app.test_client()
        assert (await client.get("/health")).status_code == 200
        listing = await (await client.get("/api/v1/plugins", headers=ADMIN)).get_json()
        bad = next(p for p in listing["plugins"] if p["name"] == "bad_import")
        assert bad["state"] == "failed"
        assert bad["source"] == "directory"


async def test_plugin_from_a_folder_is_loaded(make_app, tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "folder_plugin.py").write_text(textwrap.dedent('''
        from quart import Blueprint
        from notewell.kernel import hookimpl, policy

        bp = Blueprint("folder_plugin", __name__)

        @bp.get("/from-folder")
        @policy.public
        async def from_folder():
            return {"ok": True}

        @hookimpl
        def register_routes():
            return bp
    '''))
    async with make_app(plugin_dirs=[folder]) as app:
        assert (await app.test_client().get("/from-folder")).status_code == 200
        assert app.kernel.plugins.records["folder_plugin"].source == "directory"


def test_missing_plugin_folder_stops_start_up(settings, tmp_path):
    with pytest.raises(StartupError, match="does not exist"):
        create_app(settings.model_copy(update={"plugin_dirs": [tmp_path / "nowhere"]}))


def test_unknown_plugin_name_in_settings_stops_start_up(settings):
    with pytest.raises(StartupError, match="Unknown plugin"):
        create_app(settings.model_copy(update={"disabled_plugins": ["no_such_plugin"]}))


async def test_disabled_plugin_routes_disappear_and_come_back(make_app):
    async with make_app(extra_plugins=(Greeter(),)) as app:
        client = app.test_client()
        off = await client.patch("/api/v1/plugins/greeter", json={"enabled": False}, headers=ADMIN)
        assert off.status_code == 200
        assert (await off.get_json())["state"] == "disabled"
        gone = await client.get("/greet")
        assert gone.status_code == 404
        assert gone.content_type == "application/problem+json"
        on = await client.patch("/api/v1/plugins/greeter", json={"enabled": True}, headers=ADMIN)
        assert on.status_code == 200
        assert (await client.get("/greet")).status_code == 200


async def test_disabled_state_is_persisted_across_restarts(make_app):
    async with make_app(extra_plugins=(Greeter(),)) as app:
        await app.test_client().patch(
            "/api/v1/plugins/greeter", json={"enabled": False}, headers=ADMIN
        )
    async with make_app(extra_plugins=(Greeter(),)) as app:
        assert (await app.test_client().get("/greet")).status_code == 404


async def test_kernel_default_plugins_cannot_be_disabled(app):
    response = await app.test_client().patch(
        "/api/v1/plugins/health", json={"enabled": False}, headers=ADMIN
    )
    assert response.status_code == 409
    assert (await response.get_json())["code"] == "plugin_required"


async def test_unknown_plugin_switch_is_404(app):
    response = await app.test_client().patch(
        "/api/v1/plugins/nope", json={"enabled": False}, headers=ADMIN
    )
    assert response.status_code == 404
    assert (await response.get_json())["code"] == "plugin_not_found"


async def test_plugin_listing_is_for_admins_only(app):
    client = app.test_client()
    assert (await client.get("/api/v1/plugins")).status_code == 401
    assert (await client.get("/api/v1/plugins", headers=as_actor("alice"))).status_code == 403


async def test_plugin_renders_errors_of_its_own_routes(make_app):
    async with make_app(extra_plugins=(Greeter(), CustomErrors())) as app:
        client = app.test_client()
        response = await client.get("/greet/missing")
        assert response.status_code == 404
        assert (await response.get_data(as_text=True)) == "greeter says: greeting_not_found"
        other = await client.get("/nowhere")
        assert other.content_type == "application/problem+json"


class PublishesHooks:
    """Publishes a hookspec of its own, as the providers plugin will."""

    __name__ = "publisher"

    class Specs:
        from notewell.kernel.hookspecs import hookspec

        @staticmethod
        @hookspec
        def register_greetings():
            """Return greetings."""

    @hookimpl
    def register_hookspecs(self):
        return self.Specs


class ImplementsPublished:
    __name__ = "implementer"

    @hookimpl
    def register_greetings(self):
        return ["hi"]


class Misspelt:
    __name__ = "misspelt"

    @hookimpl
    def register_rouets(self):
        return None


async def test_plugins_cooperate_through_published_hookspecs(make_app):
    async with make_app(extra_plugins=(PublishesHooks(), ImplementsPublished())) as app:
        assert app.kernel.plugins.call("register_greetings") == [["hi"]]


def test_misspelt_hook_fails_start_up_naming_the_plugin(settings):
    with pytest.raises(StartupError, match=r"plugin misspelt.*did you mean 'register_routes'"):
        create_app(settings, plugins=[Misspelt()])


def test_plugin_commands_join_the_cli(tmp_path, monkeypatch):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "cli_plugin.py").write_text(textwrap.dedent('''
        import click
        from notewell.kernel import hookimpl

        @click.command("hello-plugin")
        def hello():
            """Say hello from a plugin."""
            click.echo("hello from a plugin command")

        @hookimpl
        def register_commands():
            return hello
    '''))
    monkeypatch.setenv("NOTEWELL_PLUGIN_DIRS", str(folder))
    monkeypatch.setenv("NOTEWELL_DATA_DIR", str(tmp_path / "data"))
    from notewell.kernel.cli import context, main

    context.settings.cache_clear()
    context.plugin_host.cache_clear()
    try:
        result = CliRunner().invoke(main, ["hello-plugin"])
    finally:
        context.settings.cache_clear()
        context.plugin_host.cache_clear()
    assert result.exit_code == 0, result.output
    assert "hello from a plugin command" in result.output


