"""Loading pipeline files: locations, limits, YAML errors and format (schema) issues."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from notewell.kernel.pipelines import yamlsafe
from notewell.kernel.pipelines.issues import Issue
from notewell.kernel.pipelines.loader import (
    Location,
    PipelineLoadError,
    load_pipeline,
)

GOOD = """\
name: demo
version: 2
inputs:
  question:
    type: string
steps:
  - id: first
    uses: demo.echo
    with:
      text: ${{ inputs.question }}
      nested: {deep: [1, 2]}
  - id: second
    uses: demo.echo
    needs: first
    timeout: 30s
    retry: {attempts: 3, backoff: 500ms}
    with:
      text: hi
"""


def load_issues(text: str, name: str = "p.yaml") -> list[Issue]:
    with pytest.raises(PipelineLoadError) as raised:
        load_pipeline(name, text=text)
    return raised.value.issues


def codes(text: str) -> list[str]:
    return [issue.code for issue in load_issues(text)]


def test_a_good_file_loads_with_its_spec_hash_and_text(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(GOOD)
    loaded = load_pipeline(path)
    assert loaded.spec.name == "demo"
    assert loaded.spec.version == "2"
    assert loaded.spec.steps[1].needs == ["first"]
    assert loaded.spec.steps[1].timeout == 30.0
    assert loaded.spec.steps[1].retry is not None and loaded.spec.steps[1].retry.backoff == 0.5
    assert loaded.path == str(path)
    assert loaded.text == GOOD
    assert loaded.content_hash == hashlib.sha256(GOOD.encode()).hexdigest()


def test_locate_points_at_scalar_values_and_at_the_keys_of_collections() -> None:
    loaded = load_pipeline("p.yaml", text=GOOD)
    assert loaded.locate("steps", 0, "with", "text") == Location("p.yaml", 10, 13)
    assert loaded.locate("steps", 0, "with") == Location("p.yaml", 9, 5)
    assert loaded.locate("steps", 0, "with", "nested", "deep", 1) == Location("p.yaml", 11, 26)
    assert loaded.locate("steps", 1) == Location("p.yaml", 12, 5)
    assert loaded.locate_key("steps", 1, "needs") == Location("p.yaml", 14, 5)


def test_locate_falls_back_to_the_nearest_existing_parent() -> None:
    loaded = load_pipeline("p.yaml", text=GOOD)
    assert loaded.locate("steps", 1, "with", "missing", 3) == loaded.locate("steps", 1, "with")
    assert loaded.locate("nothing", "here") == Location("p.yaml", 1, 1)


def test_locate_text_finds_an_expression_inside_a_value() -> None:
    text = GOOD.replace("text: hi", "text: 'a ${{ inputs.question }}'")
    loaded = load_pipeline("p.yaml", text=text)
    assert loaded.locate_text(("steps", 1, "with", "text"), "${{") == Location("p.yaml", 18, 16)


def test_malformed_yaml_is_one_yaml_syntax_issue_with_its_line() -> None:
    [issue] = load_issues("name: demo\nsteps:\n  - id: a\n    uses: [unclosed\n")
    assert issue.code == "yaml_syntax"
    assert issue.location is not None and issue.location.line >= 4


def test_a_billion_laughs_file_is_rejected_without_expanding_it() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level, name in enumerate("bcdefghi"):
        previous = "abcdefghi"[level]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    [issue] = load_issues("\n".join(lines))
    assert issue.code == "alias_limit"


def test_too_many_aliases_is_an_alias_limit_issue() -> None:
    items = ",".join(["*x"] * (yamlsafe.MAX_ALIASES + 1))
    assert codes(f"x: &x 1\ny: [{items}]") == ["alias_limit"]


def test_a_recursive_alias_is_rejected() -> None:
    assert codes("a: &a [*a]") == ["alias_limit"]


def test_deep_nesting_is_too_deep_not_a_crash() -> None:
    assert codes("[" * 5000 + "]" * 5000) == ["too_deep"]


def test_nesting_made_deep_by_aliases_is_too_deep() -> None:
    chain = "a0: &a0 [1]\n" + "".join(f"a{i}: &a{i} [[[[*a{i - 1}]]]]\n" for i in range(1, 20))
    assert codes(chain) == ["too_deep"]


def test_an_oversized_file_is_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * yamlsafe.MAX_BYTES)
    with pytest.raises(PipelineLoadError) as raised:
        load_pipeline(path)
    assert [i.code for i in raised.value.issues] == ["too_large"]


def test_every_schema_problem_is_reported_at_once_in_file_order() -> None:
    text = (
        "name: Bad Name\n"
        "steps:\n"
        "  - id: ok\n"
        "    uses: nodot\n"
        "    timout: 5\n"
        "  - uses: demo.echo\n"
        "    retry: {attempts: 0}\n"
    )
    issues = load_issues(text)
    assert {issue.code for issue in issues} == {"schema"}
    where = [(i.location.line, i.location.column) for i in issues if i.location]
    assert where == sorted(where)
    assert (1, 7) in where  # the name
    assert (4, 11) in where  # uses without a plugin
    assert (5, 5) in where  # the unknown key
    assert len(issues) == 5  # + the missing id and the bad attempts


def test_an_unknown_key_suggests_the_known_one() -> None:
    [issue] = load_issues("name: demo\nsteps:\n  - id: a\n    uses: demo.echo\n    wiht: {}\n")
    assert issue.code == "schema"
    assert "did you mean `with`" in issue.message
    assert issue.location == Location("p.yaml", 5, 5)


def test_a_repeated_key_is_reported() -> None:
    text = "name: demo\nsteps:\n  - id: a\n    uses: demo.echo\n    with: {x: 1, x: 2}\n"
    [issue] = load_issues(text)
    assert issue.code == "duplicate_key"
    assert issue.location == Location("p.yaml", 5, 18)


def test_values_are_json_shaped_yes_no_and_dates_stay_strings() -> None:
    text = (
        "name: demo\nsteps:\n  - id: a\n    uses: demo.echo\n"
        "    with: {country: NO, answer: yes, day: 2024-05-01, flag: true, 1: one}\n"
    )
    values = load_pipeline("p.yaml", text=text).spec.steps[0].with_
    assert values == {
        "country": "NO",
        "answer": "yes",
        "day": "2024-05-01",
        "flag": True,
        "1": "one",
    }


def test_python_object_tags_are_refused() -> None:
    assert codes("name: !!python/object/apply:os.system ['true']\nsteps: []\n") == ["yaml_syntax"]


def test_an_empty_file_and_a_list_are_schema_issues() -> None:
    assert codes("") == ["schema"]
    assert codes("- just\n- a list\n") == ["schema"]


def test_a_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(PipelineLoadError) as raised:
        load_pipeline(tmp_path / "nope.yaml")
    assert [i.code for i in raised.value.issues] == ["unreadable"]


def test_bytes_that_are_not_utf8_are_a_yaml_syntax_issue(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: demo\ndescription: caf\xe9\n")
    with pytest.raises(PipelineLoadError) as raised:
        load_pipeline(path)
    [issue] = raised.value.issues
    assert issue.code == "yaml_syntax"
    assert issue.location == Location(str(path), 2, 17)


def test_an_issue_reads_as_file_line_column_code_message_hint() -> None:
    issue = Issue("cycle", "a needs b", Location("p.yaml", 3, 7), "remove one")
    assert str(issue) == "p.yaml:3:7: cycle: a needs b (remove one)"
    assert str(Issue("schema", "bad", None)) == "schema: bad"


def test_if_false_switches_a_step_off_as_an_expression() -> None:
    text = "name: demo\nsteps:\n  - id: a\n    uses: demo.echo\n    if: false\n"
    assert load_pipeline("p.yaml", text=text).spec.steps[0].if_ == "false"
