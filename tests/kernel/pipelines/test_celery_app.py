"""The Celery app without a worker: importing the kernel and building an app without a
broker never imports Celery; with one, heavy steps go to Celery; the app's settings; the
``notewell worker`` command."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from notewell.kernel.celery_app import VISIBILITY_TIMEOUT_S, create_celery_app
from notewell.kernel.cli import main as cli_main
from notewell.kernel.cli import worker as worker_cli
from notewell.kernel.errors import StartupError


def test_the_kernel_without_a_broker_never_imports_celery(tmp_path):
    code = textwrap.dedent(
        f"""
        import sys
        import notewell.kernel
        from notewell.kernel.app import create_app
        from notewell.kernel.cli import main
        from notewell.kernel.settings import Settings

        app = create_app(Settings.load(data_dir={str(tmp_path)!r}))
        assert "celery" not in app.kernel.pipelines.executors
        assert app.kernel.pipelines.heavy_executor == "worker"
        main.get_command(None, "worker")  # `notewell --help` lists it without Celery
        roots = {{"celery", "billiard"}}  # (python-socketio tries kombu itself)
        print(sorted(name for name in sys.modules if name.split(".")[0] in roots))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTEWELL_")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=240
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_with_a_broker_heavy_steps_go_to_celery(settings):
    from notewell.kernel.app import create_app

    app = create_app(settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"}))
    assert app.kernel.pipelines.heavy_executor == "celery"
    assert app.kernel.pipelines.executors["celery"].name == "celery"


def test_redis_for_the_bus_alone_keeps_heavy_steps_in_the_local_pool(settings):
    from notewell.kernel.app import create_app

    app = create_app(settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}))
    assert app.kernel.pipelines.heavy_executor == "worker"
    assert "celery" not in app.kernel.pipelines.executors


def test_the_celery_app_acks_late_and_speaks_json_only(settings):
    app = create_celery_app(settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/2"}))
    conf = app.conf
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost) == (True, True)
    assert conf.worker_prefetch_multiplier == 1
    assert (conf.task_serializer, conf.accept_content) == ("json", ["json"])
    assert [queue.name for queue in conf.task_queues] == ["interactive", "batch", "gpu"]
    assert conf.broker_transport_options["visibility_timeout"] == VISIBILITY_TIMEOUT_S


def test_a_broker_that_is_not_redis_is_refused_at_start(settings):
    with pytest.raises(StartupError):
        create_celery_app(settings.model_copy(update={"broker_url": "amqp://guest@localhost//"}))


def test_worker_command_is_listed_with_its_options():
    result = CliRunner().invoke(cli_main, ["worker", "--help"])
    assert result.exit_code == 0
    for option in ("--queues", "--concurrency", "--loglevel", "--visibility-timeout"):
        assert option in result.output
    assert worker_cli.VISIBILITY_TIMEOUT_S == VISIBILITY_TIMEOUT_S
