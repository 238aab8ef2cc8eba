"""The step graph: cycle finding and the Mermaid and DOT drawings."""

from __future__ import annotations

from notewell.kernel.pipelines.graph import find_cycles, to_dot, to_mermaid
from notewell.kernel.pipelines.loader import load_pipeline

PIPELINE = """\
name: drawn
inputs:
  topic: {type: string}
steps:
  - id: first
    uses: demo.echo
    with: {text: "${{ inputs.topic }}"}
  - id: end
    name: The "last" step
    uses: demo.echo
    needs: [first]
    if: inputs.topic != ''
    with: {text: "${{ steps.first.outputs.text }} ${{ steps.first.outputs.size }}"}
outputs:
  text: ${{ steps.end.outputs.text }}
"""


def test_find_cycles_returns_each_cycle_once_in_a_stable_order() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}, "e": {"a", "missing"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["d", "d"]]
    assert find_cycles({"a": set(), "b": {"a"}}) == []


def test_find_cycles_handles_long_chains_without_recursion() -> None:
    graph = {f"s{i}": {f"s{i + 1}"} for i in range(5000)}
    graph["s5000"] = {"s0"}
    [cycle] = find_cycles(graph)
    assert cycle[0] == cycle[-1] == "s0" and len(cycle) == 5002


def test_mermaid_draws_steps_data_edges_needs_and_conditions() -> None:
    text = to_mermaid(load_pipeline("p.yaml", text=PIPELINE).spec)
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    assert '    pipeline_inputs[/"inputs: topic"/]' in lines
    assert '    pipeline_inputs -->|"topic"| step_first' in lines
    assert '    step_first -->|"text, size"| step_end' in lines
    assert '    step_end -->|"text"| pipeline_outputs' in lines
    assert any(line.startswith("    step_end{{") for line in lines)  # conditional
    assert "#quot;last#quot;" in text  # quotes in labels are escaped


def test_dot_output_is_a_digraph_with_dashed_needs_only_edges() -> None:
    spec = load_pipeline(
        "p.yaml",
        text=PIPELINE.replace(
            "${{ steps.first.outputs.text }} ${{ steps.first.outputs.size }}", "x"
        ),
    )
    text = to_dot(spec.spec)
    assert text.startswith('digraph "drawn" {')
    assert "    step_first -> step_end [style=dashed];" in text
    assert 'label="The \\"last\\" step\\ndemo.echo, if inputs.topic != \'\'"' in text
    assert text.rstrip().endswith("}")
