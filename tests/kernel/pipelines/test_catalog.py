"""The pipeline catalog: packaged and configured folders, overrides and reloading."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from notewell.kernel.pipelines.catalog import (
    PipelineCatalog,
    PipelineNotFound,
    packaged_pipeline_dir,
    pipeline_dirs,
)
from notewell.kernel.settings import Settings


def pipeline(name: str, description: str = "") -> str:
    return (
        f"name: {name}\ndescription: {description or name}\n"
        "steps:\n  - {id: a, uses: core.wait, with: {seconds: 0}}\n"
    )


def write(path: Path, text: str) -> None:
    path.write_text(text)
    stamp = path.stat().st_mtime_ns + 1_000_000_000  # a clearly newer mtime
    os.utime(path, ns=(stamp, stamp))


def test_the_packaged_examples_are_in_the_catalog() -> None:
    catalog = PipelineCatalog([packaged_pipeline_dir()])
    assert {"example-hello", "example-brief", "example-fallback"} <= set(catalog.names())
    assert catalog.get("example-hello").spec.description


def test_configured_folders_come_after_the_packaged_one(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, pipeline_dirs=[tmp_path / "extra"])
    assert pipeline_dirs(settings) == [packaged_pipeline_dir(), tmp_path / "extra"]


def test_a_later_folder_replaces_a_pipeline_of_the_same_name(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    write(tmp_path / "one" / "p.yaml", pipeline("shared", "first"))
    write(tmp_path / "two" / "q.yml", pipeline("shared", "second"))
    catalog = PipelineCatalog([tmp_path / "one", tmp_path / "two"])
    assert catalog.get("shared").spec.description == "second"
    assert len(catalog.entries()) == 2


def test_a_broken_file_is_listed_with_its_issues_but_not_runnable(tmp_path: Path) -> None:
    write(tmp_path / "broken.yaml", "name: [\n")
    catalog = PipelineCatalog([tmp_path])
    [entry] = catalog.entries()
    assert entry.name == "broken" and entry.loaded is None
    assert entry.issues[0].code == "yaml_syntax"
    with pytest.raises(PipelineNotFound):
        catalog.get("broken")


def test_reload_picks_up_changed_new_and_removed_files(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", pipeline("alpha", "old"))
    catalog = PipelineCatalog([tmp_path])
    assert catalog.names() == ["alpha"]
    assert catalog.reload() is False
    write(tmp_path / "a.yaml", pipeline("alpha", "new text"))
    write(tmp_path / "b.yaml", pipeline("beta"))
    assert catalog.names() == ["alpha"]  # no auto-reload: unchanged until reload()
    assert catalog.reload() is True
    assert catalog.get("alpha").spec.description == "new text"
    (tmp_path / "b.yaml").unlink()
    catalog.reload()
    assert catalog.names() == ["alpha"]


def test_auto_reload_sees_edits_on_the_next_look_up(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", pipeline("alpha", "old"))
    catalog = PipelineCatalog([tmp_path], auto_reload=True)
    assert catalog.get("alpha").spec.description == "old"
    write(tmp_path / "a.yaml", pipeline("alpha", "edited"))
    assert catalog.get("alpha").spec.description == "edited"


def test_a_missing_folder_is_skipped(tmp_path: Path) -> None:
    assert PipelineCatalog([tmp_path / "nowhere"]).entries() == []
