"""The ``${{ }}`` language: rendering, conditions, functions, limits and references."""

from __future__ import annotations

from typing import Any

import pytest

from notewell.kernel.pipelines.expressions import MAX_EXPRESSION_LENGTH, MAX_NESTING
from notewell.kernel.pipelines.functions import MAX_TEXT
from notewell.kernel.pipelines.loader import load_pipeline
from notewell.kernel.pipelines.refs import (
    ExpressionError,
    Reference,
    evaluate_condition,
    find_references,
    render,
    step_dependencies,
)

SCOPE: dict[str, Any] = {
    "inputs": {
        "name": "Ada",
        "n": 3,
        "tags": ["x", "y"],
        "meta": {"k": 1},
        "none": None,
        "spaced": "  Hi  ",
    },
    "steps": {
        "retrieve": {
            "outputs": {"chunks": [{"text": "a"}, {"text": "b"}], "count": 2},
            "status": "succeeded",
        },
        "broken": {"outputs": {}, "status": "failed"},
    },
}


def value(expression: str) -> Any:
    return render("${{ " + expression + " }}", SCOPE)


def error(template: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as raised:
        render(template, SCOPE)
    return raised.value


def test_a_string_that_is_one_expression_yields_the_raw_value() -> None:
    assert render("${{ inputs.tags }}", SCOPE) == ["x", "y"]
    assert render("${{ inputs.n }}", SCOPE) == 3
    assert render("  ${{ inputs.meta }}\n", SCOPE) == {"k": 1}
    assert render("${{ inputs.none }}", SCOPE) is None


def test_expressions_inside_longer_strings_are_written_as_text() -> None:
    rendered = render(
        "n=${{ inputs.n }} tags=${{ inputs.tags }} none=${{ inputs.none }}! ok=${{ true }}", SCOPE
    )
    assert rendered == 'n=3 tags=["x", "y"] none=! ok=true'


def test_dicts_and_lists_are_rendered_recursively_and_plain_values_kept() -> None:
    template = {"a": ["${{ inputs.name }}", 5, {"b": "hi ${{ inputs.n }}"}], "c": None}
    assert render(template, SCOPE) == {"a": ["Ada", 5, {"b": "hi 3"}], "c": None}


def test_indexing_with_numbers_strings_and_negative_positions() -> None:
    assert value("steps.retrieve.outputs.chunks[1].text") == "b"
    assert value("steps.retrieve.outputs.chunks[-1]['text']") == "b"
    assert value('inputs["name"]') == "Ada"
    assert value("inputs.tags[-2]") == "x"


def test_missing_keys_and_positions_are_null_so_default_can_fill_in() -> None:
    assert value("steps.broken.outputs.text") is None
    assert value("steps.nothing.outputs.text") is None
    assert value("inputs.tags[9]") is None
    assert value("default(steps.broken.outputs.text, 'fallback')") == "fallback"
    assert value("coalesce(inputs.none, steps.broken.outputs.x, 7)") == 7


def test_fields_of_a_scalar_are_an_error() -> None:
    assert error("${{ inputs.n.value }}").code == "invalid_expression"
    assert error("${{ inputs.tags.first }}").code == "invalid_expression"


def test_statuses_comparisons_and_logic() -> None:
    assert value("steps.broken.status == 'failed'") is True
    assert value("inputs.n >= 3 and inputs.n < 4") is True
    assert value("not (inputs.n > 3) or false") is True
    assert value("1 == 1.0") is True
    assert value("true == 1") is False
    assert value("inputs.none or 'x'") == "x"
    assert value("[1, 'a'] == [1, 'a']") is True


def test_comparing_unlike_types_for_order_is_an_error() -> None:
    assert "cannot compare" in error("${{ inputs.name < 3 }}").message


def test_chained_comparisons_are_refused() -> None:
    assert error("${{ 1 < 2 < 3 }}").code == "invalid_expression"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("length(inputs.tags)", 2),
        ("length(inputs.name)", 3),
        ("length(inputs.none)", 0),
        ("join(inputs.tags, ', ')", "x, y"),
        ("join(inputs.tags)", "x,y"),
        ("lower(inputs.name)", "ada"),
        ("upper(inputs.name)", "ADA"),
        ("trim(inputs.spaced)", "Hi"),
        ("contains(inputs.tags, 'y')", True),
        ("contains(inputs.name, 'd')", True),
        ("contains(inputs.meta, 'k')", True),
        ("json(inputs.meta)", '{"k": 1}'),
        ("format('{} has {} {{tags}}: {0}', inputs.name, inputs.n)", "Ada has 3 {tags}: Ada"),
        ("keys(inputs.meta)", ["k"]),
        ("first(inputs.tags)", "x"),
        ("last(inputs.tags)", "y"),
        ("first([])", None),
        ("default(inputs.name, 'x')", "Ada"),
    ],
)
def test_functions(expression: str, expected: Any) -> None:
    assert value(expression) == expected


def test_format_has_no_attribute_access() -> None:
    assert error("${{ format('{0.__class__}', inputs.name) }}").code == "invalid_expression"


def test_an_unknown_function_says_which_one_was_meant() -> None:
    raised = error("${{ lenght(inputs.tags) }}")
    assert raised.code == "unknown_function"
    assert "`length`" in raised.message


def test_a_wrong_number_of_arguments_is_an_invalid_expression() -> None:
    assert error("${{ join(inputs.tags, ',', 'x') }}").code == "invalid_expression"


@pytest.mark.parametrize(
    "template",
    [
        "${{ inputs.n > }}",
        "${{ }}",
        "${{ inputs.name",
        "${{ __import__('os').system('true') }}",
        "${{ inputs.name; 1 }}",
        "${{ inputs.n + 1 }}",
        "${{ lambda: 1 }}",
        "${{ os }}",
    ],
)
def test_anything_outside_the_language_is_an_error(template: str) -> None:
    raised = error(template)
    assert raised.code in {"invalid_expression", "unknown_function"}
    assert raised.message


def test_python_attributes_are_not_reachable() -> None:
    assert value("inputs.__class__") is None
    assert error("${{ inputs.name['__class__'] }}").code == "invalid_expression"


def test_closing_braces_inside_a_string_literal_do_not_end_the_expression() -> None:
    assert render("${{ 'a }} b' }}", SCOPE) == "a }} b"
    assert render("${{ 'it''s' }}", SCOPE) == "it's"


def test_limits_stop_huge_expressions_and_results() -> None:
    assert error("${{ " + "1 or " * MAX_EXPRESSION_LENGTH + "1 }}").code == "invalid_expression"
    assert error("${{ " + "(" * (MAX_NESTING + 5) + "1" + ")" * (MAX_NESTING + 5) + " }}")
    big = {"inputs": {"s": "x" * (MAX_TEXT // 2 + 1)}}
    with pytest.raises(ExpressionError):
        render("${{ inputs.s }}${{ inputs.s }}", big)
    with pytest.raises(ExpressionError):
        render("${{ join([inputs.s, inputs.s]) }}", big)


def test_conditions_accept_wrapped_and_bare_expressions() -> None:
    assert evaluate_condition("${{ inputs.n == 3 }}", SCOPE) is True
    assert evaluate_condition("inputs.n == 4", SCOPE) is False
    assert evaluate_condition("false", SCOPE) is False
    assert evaluate_condition("inputs.tags", SCOPE) is True
    assert evaluate_condition("inputs.none", SCOPE) is False


def test_a_condition_with_text_around_the_expression_is_refused() -> None:
    with pytest.raises(ExpressionError):
        evaluate_condition("${{ inputs.n }} == 3", SCOPE)


def test_find_references_walks_nested_values_and_keeps_fixed_paths() -> None:
    found = find_references(
        {
            "a": ["${{ steps.retrieve.outputs.chunks[0].text }}"],
            "b": "${{ join(inputs.tags) }} ${{ steps.x.outputs.items[inputs.n].name }}",
        }
    )
    assert found == [
        Reference(
            "steps",
            ("retrieve", "outputs", "chunks", 0, "text"),
            "retrieve",
            "steps.retrieve.outputs.chunks[0].text",
        ),
        Reference("inputs", ("tags",), None, "inputs.tags"),
        Reference("steps", ("x", "outputs", "items"), "x", "steps.x.outputs.items"),
        Reference("inputs", ("n",), None, "inputs.n"),
    ]


def test_step_dependencies_come_from_needs_arguments_and_conditions() -> None:
    loaded = load_pipeline(
        "p.yaml",
        text="""\
name: deps
steps:
  - id: a
    uses: demo.echo
  - id: b
    uses: demo.echo
    needs: a
  - id: c
    uses: demo.echo
    if: steps.b.status == 'succeeded'
    with: {text: "${{ steps.a.outputs.text }} ${{ steps.ghost.outputs.x }}"}
  - id: d
    uses: demo.echo
    with: {text: "${{ steps.d.outputs.text }}"}
""",
    )
    assert step_dependencies(loaded.spec) == {
        "a": set(),
        "b": {"a"},
        "c": {"a", "b"},
        "d": {"d"},
    }
