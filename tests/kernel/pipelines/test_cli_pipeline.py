"""`notewell pipeline validate|schema|graph|list`, run in-process with click's runner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from notewell.kernel.cli import context as cli_context
from notewell.kernel.cli import main

STEPS_PLUGIN = """
from pydantic import BaseModel
from notewell.kernel.hookspecs import hookimpl
from notewell.kernel.pipelines.step import Step


class Echo(Step):
    name = "demo.echo"

    class Inputs(BaseModel):
        text: str

    class Outputs(BaseModel):
        text: str

    async def run(self, inputs, ctx):
        return self.Outputs(text=inputs.text)


@hookimpl
def register_steps():
    return [Echo]
"""

GOOD = """\
name: echo-twice
version: "3"
description: Says it twice.
inputs:
  text: {type: string}
steps:
  - id: once
    uses: demo.echo
    with: {text: "${{ inputs.text }}"}
  - id: twice
    uses: demo.echo
    with: {text: "${{ steps.once.outputs.text }} again"}
"""

BAD = """\
name: broken
steps:
  - id: once
    uses: demo.echo
    with: {text: "${{ steps.once0.outputs.text }}"}
  - id: twice
    uses: demo.ecko
    with: {text: "${{ steps.once.outputs.txt }}"}
"""


@pytest.fixture
def notewell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "demo_steps.py").write_text(STEPS_PLUGIN)
    extra = tmp_path / "pipelines"
    extra.mkdir()
    (extra / "echo.yaml").write_text(GOOD)
    monkeypatch.setenv("NOTEWELL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NOTEWELL_PLUGIN_DIRS", str(plugins))
    monkeypatch.setenv("NOTEWELL_PIPELINE_DIRS", str(extra))
    cli_context.settings.cache_clear()
    cli_context.plugin_host.cache_clear()

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    yield invoke
    cli_context.settings.cache_clear()
    cli_context.plugin_host.cache_clear()


def test_validate_prints_ok_and_exits_zero_for_good_files(notewell, tmp_path: Path) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    result = notewell("pipeline", "validate", str(path))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{path}: ok"


def test_validate_prints_each_issue_with_location_and_hint_and_exits_one(
    notewell, tmp_path: Path
) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD)
    bad.write_text(BAD)
    result = notewell("pipeline", "validate", str(good), str(bad))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"{good}: ok" in lines
    assert any(line.startswith(f"{bad}:5:23: unknown_step_reference: ") for line in lines)
    assert any(line.startswith(f"{bad}:7:11: unknown_step_type: ") for line in lines)
    assert any(line.startswith(f"{bad}:8:23: unknown_output: ") for line in lines)
    assert any(line.startswith("    hint: ") for line in lines)


def test_validate_json_lists_issues_per_file(notewell, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsteps: [")
    result = notewell("pipeline", "validate", "--json", str(bad))
    assert result.exit_code == 1
    [issue] = json.loads(result.output)[str(bad)]
    assert issue["code"] == "yaml_syntax" and issue["line"] == 2


def test_schema_is_a_json_schema_editors_can_use(notewell) -> None:
    result = notewell("pipeline", "schema")
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["title"] == "Notewell pipeline"
    assert {"name", "steps"} <= set(schema["required"])
    step = schema["$defs"]["StepSpec"]["properties"]
    assert {"with", "if", "needs", "uses", "timeout"} <= set(step)
    assert {"type": "string"} in step["timeout"]["anyOf"] or any(
        option.get("type") == "string" for option in step["timeout"]["anyOf"]
    )


def test_graph_prints_mermaid_by_default_and_dot_on_request(notewell, tmp_path: Path) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    mermaid = notewell("pipeline", "graph", str(path))
    assert mermaid.exit_code == 0
    assert mermaid.output.startswith("flowchart TD\n")
    assert '    step_once -->|"text"| step_twice' in mermaid.output
    dot = notewell("pipeline", "graph", "--format", "dot", str(path))
    assert dot.output.startswith('digraph "echo-twice" {')


def test_graph_of_a_file_that_does_not_load_prints_the_issue(notewell, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: [")
    result = notewell("pipeline", "graph", str(path))
    assert result.exit_code == 1
    assert ": yaml_syntax: " in result.output


def test_list_shows_packaged_and_configured_pipelines(notewell) -> None:
    result = notewell("pipeline", "list", "--json")
    assert result.exit_code == 0
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["echo-twice"]["version"] == "3"
    assert rows["echo-twice"]["description"] == "Says it twice."
    assert rows["echo-twice"]["file"].endswith("echo.yaml")
    assert "example-hello" in rows
    table = notewell("pipeline", "list")
    assert "echo-twice" in table.output


DOCS = Path(__file__).resolve().parents[3] / "docs" / "pipelines.md"


def test_the_docs_embed_the_current_json_schema() -> None:
    from notewell.kernel.pipelines.spec import pipeline_json_schema

    text = DOCS.read_text()
    embedded = text.split("<!-- schema:start -->\n```json\n")[1].split("\n```\n<!-- schema:end")[0]
    assert json.loads(embedded) == pipeline_json_schema(), (
        "docs/pipelines.md has a stale schema: paste `notewell pipeline schema` between the markers"
    )


def test_every_issue_code_has_a_section_in_the_docs() -> None:
    from notewell.kernel.pipelines.issues import ISSUE_CODES

    text = DOCS.read_text()
    assert [code for code in ISSUE_CODES if f"#### `{code}`" not in text] == []
