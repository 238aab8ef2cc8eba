"""Docs move with the code: the hook reference is generated, and every hook is tested."""

from __future__ import annotations

import inspect
from pathlib import Path

from notewell.kernel import docgen, hookspecs

ROOT = Path(__file__).resolve().parents[2]


def test_plugin_guide_matches_the_hookspecs():
    committed = (ROOT / "docs" / "plugins.md").read_text()
    assert committed == docgen.render(), (
        "docs/plugins.md is stale: run `python -m notewell.kernel.docgen`"
    )


def test_every_hookspec_has_a_docstring_and_annotations():
    for name in docgen.hook_names():
        function = getattr(hookspecs, name)
        assert inspect.getdoc(function), f"hookspec {name} has no docstring"
        assert inspect.signature(function).return_annotation is not inspect.Signature.empty


def test_every_hook_is_exercised_by_a_test():
    sources = "\n".join(
        path.read_text() for path in (ROOT / "tests").rglob("*.py") if path.name != __file__
    )
    untested = [name for name in docgen.hook_names() if f"def {name}(" not in sources]
    assert not untested, f"hooks with no implementation in any test: {untested}"


def test_api_reference_lists_every_route(app):
    committed = (ROOT / "docs" / "api.md").read_text()
    assert committed == docgen.render_api(app), (
        "docs/api.md is stale: run `python -m notewell.kernel.docgen api`"
    )
