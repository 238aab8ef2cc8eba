"""Validation against step models: every code, located, all at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from notewell.kernel.pipelines.catalog import packaged_pipeline_dir
from notewell.kernel.pipelines.issues import Issue, Location
from notewell.kernel.pipelines.loader import load_pipeline
from notewell.kernel.pipelines.step import Step, StepContext
from notewell.kernel.pipelines.validate import validate, validate_file


class Chunk(BaseModel):
    text: str
    score: float = 0.0


class Retrieve(Step):
    name = "rag.retrieve"

    class Inputs(BaseModel):
        query: str
        top_k: int = Field(5, ge=1)

    class Outputs(BaseModel):
        chunks: list[Chunk]
        count: int
        meta: dict[str, Any] = {}

    async def run(self, inputs: Any, ctx: StepContext) -> Any:
        return self.Outputs(chunks=[], count=0)


class Answer(Step):
    name = "llm.answer"

    class Inputs(BaseModel):
        prompt: str
        context: list[Chunk] = []
        temperature: float = 0.2

    class Outputs(BaseModel):
        text: str

    async def run(self, inputs: Any, ctx: StepContext) -> Any:
        return self.Outputs(text="")


class Template(Step):
    """Stand-in with the contract of the real core.template."""

    name = "core.template"

    class Inputs(BaseModel):
        template: str
        values: dict[str, Any] = {}

    class Outputs(BaseModel):
        text: str


class Wait(Step):
    name = "core.wait"

    class Inputs(BaseModel):
        seconds: float = Field(ge=0)

    class Outputs(BaseModel):
        waited: float


class Fail(Step):
    name = "core.fail"

    class Inputs(BaseModel):
        message: str = "failed on purpose"
        code: str = "step_failed"

    class Outputs(BaseModel):
        pass


STEPS: dict[str, type[Step]] = {c.name: c for c in (Retrieve, Answer, Template, Wait, Fail)}

HEADER = """\
name: rag
inputs:
  question: {type: string}
  k: {type: integer, default: 3}
steps:
"""


def check(steps_yaml: str, outputs: str = "") -> list[Issue]:
    return validate(load_pipeline("p.yaml", text=HEADER + steps_yaml + outputs), STEPS)


def only(issues: list[Issue], code: str) -> Issue:
    matching = [issue for issue in issues if issue.code == code]
    assert len(matching) == 1, issues
    return matching[0]


def test_a_correct_pipeline_has_no_issues() -> None:
    assert (
        check(
            """\
  - id: retrieve
    uses: rag.retrieve
    with: {query: "${{ inputs.question }}", top_k: "${{ inputs.k }}"}
  - id: answer
    uses: llm.answer
    if: steps.retrieve.outputs.count > 0
    with:
      prompt: "Answer ${{ inputs.question }} from ${{ steps.retrieve.outputs.chunks }}"
      context: ${{ steps.retrieve.outputs.chunks }}
      temperature: ${{ default(steps.retrieve.outputs.meta.t, 0.5) }}
""",
            "outputs:\n  text: ${{ steps.answer.outputs.text }}\n",
        )
        == []
    )


def test_duplicate_step_ids_are_reported_at_the_second() -> None:
    issue = only(
        check("""\
  - id: a
    uses: core.wait
    with: {seconds: 1}
  - id: a
    uses: core.wait
    with: {seconds: 1}
"""),
        "duplicate_step_id",
    )
    assert issue.location == Location("p.yaml", 9, 9)


def test_an_unknown_step_type_suggests_the_registered_one() -> None:
    issue = only(check("  - id: a\n    uses: llm.answr\n"), "unknown_step_type")
    assert "`llm.answer`" in issue.message
    assert issue.location == Location("p.yaml", 7, 11)
    assert issue.hint


def test_a_misspelt_input_is_unknown_input_with_did_you_mean() -> None:
    issue = only(
        check("""\
  - id: r
    uses: rag.retrieve
    with: {query: "${{ inputs.questoin }}"}
"""),
        "unknown_input",
    )
    assert "inputs.question" in issue.message
    assert issue.location == Location("p.yaml", 8, 24)


def test_references_to_missing_steps_in_values_and_needs() -> None:
    issues = check("""\
  - id: retrieve
    uses: rag.retrieve
    with: {query: "${{ inputs.question }}"}
  - id: answer
    uses: llm.answer
    needs: [retreive]
    with: {prompt: "${{ steps.retrive.outputs.count }}"}
""")
    codes = [(i.code, i.location.line if i.location else 0) for i in issues]
    assert codes == [("unknown_step_reference", 11), ("unknown_step_reference", 12)]
    assert all("`retrieve`" in issue.message for issue in issues)


def test_a_misspelt_output_field_is_unknown_output_with_did_you_mean() -> None:
    issue = only(
        check("""\
  - id: retrieve
    uses: rag.retrieve
    with: {query: q}
  - id: answer
    uses: llm.answer
    with:
      prompt: "${{ steps.retrieve.outputs.chunk[0].text }}"
"""),
        "unknown_output",
    )
    assert "did you mean `chunks`" in issue.message
    assert issue.location == Location("p.yaml", 12, 20)


def test_nested_output_fields_are_checked_through_the_schema() -> None:
    issue = only(
        check("""\
  - id: retrieve
    uses: rag.retrieve
    with: {query: q}
  - id: answer
    uses: llm.answer
    with: {prompt: "${{ steps.retrieve.outputs.chunks[0].txt }}"}
"""),
        "unknown_output",
    )
    assert "did you mean `text`" in issue.message


@pytest.mark.parametrize(
    "reference",
    [
        "steps.retrieve",
        "steps.retrieve.output.count",
        "steps.retrieve.status.code",
        "steps.retrieve.outputs.chunks.text",
        "steps",
    ],
)
def test_references_that_are_not_values_are_bad_output_references(reference: str) -> None:
    issues = check(f"""\
  - id: retrieve
    uses: rag.retrieve
    with: {{query: q}}
  - id: answer
    uses: llm.answer
    with: {{prompt: "x ${{{{ {reference} }}}}"}}
""")
    assert [issue.code for issue in issues] == ["bad_output_reference"]


def test_a_cycle_is_named_and_located_at_the_reference_that_closes_it() -> None:
    issues = check("""\
  - id: a
    uses: core.template
    with: {template: "${{ steps.c.outputs.text }}"}
  - id: b
    uses: core.template
    with: {template: "${{ steps.a.outputs.text }}"}
  - id: c
    uses: core.template
    needs: [b]
    with: {template: x}
  - id: self
    uses: core.template
    with: {template: "${{ steps.self.outputs.text }}"}
""")
    cycles = [issue for issue in issues if issue.code == "cycle"]
    assert len(cycles) == 2
    assert "`a` → `c` → `b` → `a`" in cycles[0].message
    assert cycles[0].location == Location("p.yaml", 8, 27)
    assert "`self`" in cycles[1].message


def test_missing_and_unknown_arguments() -> None:
    issues = check("""\
  - id: r
    uses: rag.retrieve
    with: {topk: 3}
""")
    missing = only(issues, "missing_argument")
    assert "`query`" in missing.message
    unknown = only(issues, "unknown_argument")
    assert "did you mean `top_k`" in unknown.message
    assert unknown.location == Location("p.yaml", 8, 12)


def test_an_array_output_given_to_a_string_argument_is_a_type_mismatch() -> None:
    issue = only(
        check("""\
  - id: retrieve
    uses: rag.retrieve
    with: {query: q}
  - id: answer
    uses: llm.answer
    with:
      prompt: ${{ steps.retrieve.outputs.chunks }}
"""),
        "type_mismatch",
    )
    assert issue.message == (
        "`steps.retrieve.outputs.chunks` is array of object, `answer.with.prompt` wants "
        "string — did you mean `answer.with.context`?"
    )
    assert "json(steps.retrieve.outputs.chunks)" in issue.hint
    assert issue.location == Location("p.yaml", 12, 19)


def test_function_results_and_inputs_are_typed_too() -> None:
    issues = check("""\
  - id: r
    uses: rag.retrieve
    with:
      query: ${{ length(inputs.question) }}
      top_k: ${{ inputs.question }}
""")
    assert [issue.code for issue in issues] == ["type_mismatch", "type_mismatch"]
    assert "is integer" in issues[0].message and "is string" in issues[1].message


def test_an_embedded_reference_is_fine_for_a_string_but_not_for_a_number() -> None:
    issues = check("""\
  - id: retrieve
    uses: rag.retrieve
    with: {query: "about ${{ inputs.k }}"}
  - id: answer
    uses: llm.answer
    with: {prompt: p, temperature: "0.${{ inputs.k }}"}
""")
    issue = only(issues, "type_mismatch")
    assert "`answer.with.temperature` wants number" in issue.message


def test_literal_arguments_are_checked_by_the_step_model() -> None:
    issue = only(
        check("""\
  - id: r
    uses: rag.retrieve
    with: {query: q, top_k: 0}
"""),
        "type_mismatch",
    )
    assert issue.location == Location("p.yaml", 8, 29)


def test_an_input_default_of_the_wrong_type_is_a_type_mismatch() -> None:
    loaded = load_pipeline(
        "p.yaml",
        text="""\
name: x
inputs:
  n: {type: integer, default: many}
steps:
  - {id: w, uses: core.wait, with: {seconds: 1}}
""",
    )
    issue = only(validate(loaded, STEPS), "type_mismatch")
    assert issue.location == Location("p.yaml", 3, 31)


def test_bad_expressions_are_reported_each_on_its_own() -> None:
    issues = check("""\
  - id: a
    uses: core.template
    with:
      template: "${{ lenght(inputs.question) }} ${{ inputs.question > }} ${{ inputs.nope }}"
    if: "${{ inputs.k }} > 2"
""")
    assert [issue.code for issue in issues] == [
        "unknown_function",
        "invalid_expression",
        "unknown_input",
        "invalid_expression",
    ]
    assert issues[0].location == Location("p.yaml", 9, 22)
    assert "did you mean `length`" in issues[0].message


def test_every_problem_is_reported_at_once_in_file_order() -> None:
    issues = check("""\
  - id: a
    uses: nope.nothing
  - id: a
    uses: rag.retrieve
    with: {query: "${{ inputs.x }}", extra: 1}
  - id: b
    uses: llm.answer
    needs: [ghost]
""")
    assert [(issue.code, issue.location.line) for issue in issues if issue.location] == [
        ("unknown_step_type", 7),
        ("duplicate_step_id", 8),
        ("unknown_input", 10),
        ("unknown_argument", 10),
        ("missing_argument", 11),
        ("unknown_step_reference", 13),
    ]


def test_validate_file_returns_load_issues_when_the_file_does_not_load(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: [\n")
    loaded, issues = validate_file(path, STEPS)
    assert loaded is None
    assert [issue.code for issue in issues] == ["yaml_syntax"]


@pytest.mark.parametrize(
    # feature pipelines (chat.yaml, openai-chat.yaml…) use their plugins' steps and are
    # validated by those plugins' tests against the installed registry
    "path", sorted(packaged_pipeline_dir().glob("example-*.yaml")), ids=lambda p: p.name
)
def test_the_example_pipelines_validate_against_the_core_step_contracts(path: Path) -> None:
    loaded, issues = validate_file(path, STEPS)
    assert loaded is not None
    assert issues == []


class Blob:
    """A Python type with no JSON Schema."""


class Opaque(Step):
    name = "demo.opaque"

    class Inputs(BaseModel):
        model_config = ConfigDict(arbitrary_types_allowed=True)
        blob: Blob | None = None

    class Outputs(BaseModel):
        model_config = ConfigDict(arbitrary_types_allowed=True)
        blob: Blob


def test_models_without_a_json_schema_are_checked_at_run_time_not_here() -> None:
    loaded = load_pipeline(
        "p.yaml",
        text="""\
name: opaque
steps:
  - {id: o, uses: demo.opaque, with: {anything: 1}}
  - {id: t, uses: core.template, with: {template: "${{ steps.o.outputs.whatever }}"}}
""",
    )
    assert validate(loaded, {**STEPS, Opaque.name: Opaque}) == []
