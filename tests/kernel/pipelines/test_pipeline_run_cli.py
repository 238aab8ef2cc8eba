"""``notewell pipeline run``: a real subprocess, outputs on stdout, progress on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HELLO = """
    name: cli-hello
    inputs:
      who: {type: string}
      times: {type: integer, default: 1}
    steps:
      - id: greet
        uses: core.template
        with: {template: "Hello, {who} x{times}", values: {who: "${{ inputs.who }}",
               times: "${{ inputs.times }}"}}
      - id: pause
        uses: core.wait
        with: {seconds: 0}
    outputs:
      text: ${{ steps.greet.outputs.text }}
"""

FAILING = """
    name: cli-fails
    steps:
      - id: first
        uses: core.template
        with: {template: "ok"}
      - id: stop
        uses: core.fail
        needs: first
        with: {message: "stopped here", code: stopped}
"""


@pytest.fixture
def cli(tmp_path: Path):
    env = {**os.environ, "NOTEWELL_DATA_DIR": str(tmp_path / "data"), "NOTEWELL_LOG_LEVEL": "ERROR"}
    env.pop("NOTEWELL_DATABASE_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "notewell.kernel.cli", "pipeline", "run", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    return run


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_run_prints_outputs_as_json_and_a_line_per_step(cli, tmp_path):
    result = cli(write(tmp_path, "hello.yaml", HELLO), "--input", "who=Ada", "-i", "times=2")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"text": "Hello, Ada x2"}
    lines = result.stderr.splitlines()
    assert any(line.startswith("greet  succeeded") for line in lines)
    assert any(line.startswith("pause  succeeded") for line in lines)


def test_json_inputs_are_accepted(cli, tmp_path):
    path = write(tmp_path, "hello.yaml", HELLO)
    result = cli(path, "--json-inputs", '{"who": "Bo", "times": 3}')
    assert json.loads(result.stdout) == {"text": "Hello, Bo x3"}


def test_a_failed_run_exits_1_with_its_error(cli, tmp_path):
    result = cli(write(tmp_path, "fails.yaml", FAILING))
    assert result.returncode == 1
    assert "stopped here" in result.stderr and "[stopped]" in result.stderr
    assert "stop  failed" in result.stderr


def test_bad_inputs_exit_2_naming_each_problem(cli, tmp_path):
    result = cli(write(tmp_path, "hello.yaml", HELLO), "-i", "times=many")
    assert result.returncode == 2
    assert "who is required" in result.stderr and "times must be an integer" in result.stderr


def test_a_catalog_pipeline_runs_by_name(cli):
    result = cli("example-hello", "-i", "name=CLI")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"greeting": "Hello, CLI!"}


ON_A_WORKER = """
    name: cli-worker
    steps:
      - id: pooled
        uses: core.template
        executor: worker
        with: {template: "from a worker process"}
    outputs:
      text: ${{ steps.pooled.outputs.text }}
"""


def test_a_step_sent_to_the_worker_pool_shows_queued_then_running_then_done(cli, tmp_path):
    result = cli(write(tmp_path, "worker.yaml", ON_A_WORKER))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"text": "from a worker process"}
    statuses = [line.split()[1] for line in result.stderr.splitlines() if line.startswith("pooled")]
    assert statuses == ["queued", "running", "succeeded"]
