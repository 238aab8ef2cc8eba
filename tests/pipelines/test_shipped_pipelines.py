"""Every pipeline Notewell ships validates against the installed steps, and the
examples run to success (feature pipelines run in their plugins' tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from notewell.kernel import SYSTEM
from notewell.kernel.pipelines.catalog import packaged_pipeline_dir
from notewell.kernel.pipelines.loader import load_pipeline

SHIPPED = sorted(packaged_pipeline_dir().glob("*.yaml"))


def test_pipelines_are_shipped():
    names = {path.name for path in SHIPPED}
    assert {"chat.yaml", "example-hello.yaml"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
async def test_shipped_pipeline_validates_against_the_installed_steps(app, path: Path):
    loaded = load_pipeline(path)
    issues = app.kernel.pipelines.issues(loaded)
    assert issues == [], "\n".join(str(issue) for issue in issues)


@pytest.mark.parametrize(
    "path", sorted(packaged_pipeline_dir().glob("example-*.yaml")), ids=lambda p: p.name
)
async def test_example_pipeline_runs_to_success(app, path: Path):
    loaded = load_pipeline(path)
    samples = {"string": "notebooks", "integer": 2, "number": 1.5, "boolean": True,
               "array": ["a", "b"], "object": {"k": "v"}, "any": "x"}
    inputs = {
        name: (spec.enum[0] if spec.enum else samples[spec.type])
        for name, spec in loaded.spec.inputs.items()
        if spec.required
    }
    run = await app.kernel.pipelines.run(loaded, inputs, actor=SYSTEM)
    assert run.status == "succeeded", run.error
    assert run.outputs
