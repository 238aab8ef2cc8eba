"""The step graph of a pipeline: cycles, and drawings in Mermaid and Graphviz DOT.

Edges come from ``needs`` (drawn dashed) and from references (drawn solid, labelled
with the output fields or inputs that flow along them).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from notewell.kernel.pipelines.expressions import ExpressionError
from notewell.kernel.pipelines.refs import (
    Reference,
    condition_expression,
    find_valid_references,
    references_in,
)
from notewell.kernel.pipelines.spec import PipelineSpec, StepSpec

INPUTS, OUTPUTS = "pipeline_inputs", "pipeline_outputs"


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle per strongly connected group of nodes, as ``[a, b, …, a]``.

    Nodes are visited in the mapping's order, so results are stable; edges to nodes
    that are not keys are ignored.
    """
    edges = {
        node: [n for n in dict.fromkeys(targets) if n in graph] for node, targets in graph.items()
    }
    cycles = []
    for group in _components(edges):
        first = next(node for node in edges if node in group)
        if len(group) > 1 or first in edges[first]:
            cycles.append(_cycle_through(first, group, edges))
    return cycles


def _components(edges: Mapping[str, list[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components, without recursion."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    groups.append(group)
            elif target not in index:
                index[target] = low[target] = len(index)
                stack.append(target)
                on_stack.add(target)
                work.append((target, iter(edges[target])))
            elif target in on_stack:
                low[node] = min(low[node], index[target])
    return groups


def _cycle_through(first: str, group: set[str], edges: Mapping[str, list[str]]) -> list[str]:
    """The shortest path from ``first`` back to itself inside ``group``."""
    previous: dict[str, str] = {}
    frontier = [first]
    while frontier:
        following = []
        for node in frontier:
            for target in edges[node]:
                if target not in group:
                    continue
                if target == first:
                    path = [node]
                    while path[-1] != first:
                        path.append(previous[path[-1]])
                    return [first, *reversed(path[:-1]), first] if node != first else [first, first]
                if target not in previous:
                    previous[target] = node
                    following.append(target)
        frontier = following
    return [first, first]


# -- drawing -----------------------------------------------------------------------------


@dataclass
class _Edge:
    source: str
    target: str
    labels: list[str] = field(default_factory=list)
    data: bool = False


_Add = Callable[[str, str, "str | None"], None]


def _step_references(step: StepSpec) -> list[Reference]:
    found = find_valid_references(step.with_)
    if step.if_ is not None:
        # an invalid condition is validation's to report; the drawing leaves it out
        with contextlib.suppress(ExpressionError):
            found += references_in(condition_expression(step.if_))
    return found


def _edges(spec: PipelineSpec) -> list[_Edge]:
    known = {step.id for step in spec.steps}
    edges: dict[tuple[str, str], _Edge] = {}

    def add(source: str, target: str, label: str | None) -> None:
        edge = edges.setdefault((source, target), _Edge(source, target))
        if label is not None:
            edge.data = True
            if label and label not in edge.labels:
                edge.labels.append(label)

    for step in spec.steps:
        for need in step.needs:
            if need in known:
                add(_node(need), _node(step.id), None)
        for ref in _step_references(step):
            _add_reference(add, ref, _node(step.id), known)
    for ref in find_valid_references(spec.outputs):
        _add_reference(add, ref, OUTPUTS, known)
    return list(edges.values())


def _add_reference(add: _Add, ref: Reference, target: str, known: set[str]) -> None:
    if ref.root == "inputs":
        add(INPUTS, target, str(ref.path[0]) if ref.path else "")
    elif ref.step_id in known:
        label = ref.path[2] if len(ref.path) > 2 and ref.path[1] == "outputs" else ""
        add(_node(ref.step_id or ""), target, str(label))


def _node(step_id: str) -> str:
    return f"step_{step_id}"


def _step_label(step: StepSpec) -> tuple[str, str]:
    title = step.name or step.id
    condition = step.if_ or ""
    if len(condition) > 40:
        condition = condition[:39] + "…"
    detail = f"{step.uses}, if {condition}" if condition else step.uses
    return title, detail


def to_mermaid(spec: PipelineSpec) -> str:
    """A Mermaid flowchart of the pipeline (conditional steps drawn as hexagons)."""
    lines = ["flowchart TD"]
    if spec.inputs:
        names = ", ".join(spec.inputs)
        lines.append(f'    {INPUTS}[/"{_mermaid_text("inputs: " + names)}"/]')
    for step in spec.steps:
        title, detail = _step_label(step)
        label = f"{_mermaid_text(title)}<br/><small>{_mermaid_text(detail)}</small>"
        opening, closing = ("{{", "}}") if step.if_ else ("[", "]")
        lines.append(f'    {_node(step.id)}{opening}"{label}"{closing}')
    if spec.outputs:
        names = ", ".join(spec.outputs)
        lines.append(f'    {OUTPUTS}[\\"{_mermaid_text("outputs: " + names)}"\\]')
    for edge in _edges(spec):
        arrow = "-->" if edge.data else "-.->"
        label = f'|"{_mermaid_text(", ".join(edge.labels))}"|' if edge.labels else ""
        lines.append(f"    {edge.source} {arrow}{label} {edge.target}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    replacements = {"&": "#amp;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "\n": " "}
    return "".join(replacements.get(char, char) for char in text)


def to_dot(spec: PipelineSpec) -> str:
    """A Graphviz DOT digraph of the pipeline."""
    lines = [
        f"digraph {_dot_text(spec.name)} {{",
        "    rankdir=TB;",
        '    node [shape=box, style=rounded, fontname="Helvetica"];',
    ]
    if spec.inputs:
        label = _dot_text("inputs\n" + ", ".join(spec.inputs))
        lines.append(f"    {INPUTS} [label={label}, shape=parallelogram];")
    for step in spec.steps:
        title, detail = _step_label(step)
        shape = ", shape=hexagon" if step.if_ else ""
        lines.append(f"    {_node(step.id)} [label={_dot_text(title + chr(10) + detail)}{shape}];")
    if spec.outputs:
        label = _dot_text("outputs\n" + ", ".join(spec.outputs))
        lines.append(f"    {OUTPUTS} [label={label}, shape=parallelogram];")
    for edge in _edges(spec):
        attributes = [] if edge.data else ["style=dashed"]
        if edge.labels:
            attributes.append(f"label={_dot_text(', '.join(edge.labels))}")
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f"    {edge.source} -> {edge.target}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
