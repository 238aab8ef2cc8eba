"""Generates docs/steps.md from the step registry (every installed plugin's steps).

Run ``python -m notewell.kernel.pipelines.stepdocs`` after adding or changing a step;
``--check`` exits 1 when the file is stale, and a test does the same.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from notewell.kernel.pipelines.registry import StepInfo, collect_steps
from notewell.kernel.plugins import PluginHost

DOCS = Path(__file__).resolve().parents[2] / "docs" / "steps.md"

INTRO = """\
# Pipeline steps

The step types pipelines can `uses:`, with their inputs and outputs. Generated from the
step registry by `python -m notewell.kernel.pipelines.stepdocs`; a test fails when it
is stale. The file format is in [pipelines.md](pipelines.md); how steps run (executors,
retries, records) in [runs.md](runs.md).
"""


def installed_steps() -> list[StepInfo]:
    """Every step of the kernel's plugins and the installed ones, sorted by name."""
    host = PluginHost()
    host.load()
    found = collect_steps(host)
    return [found[name] for name in sorted(found)]


def render(steps: list[StepInfo] | None = None) -> str:
    """The whole of docs/steps.md."""
    steps = installed_steps() if steps is None else steps
    parts = [INTRO, "| step | plugin | what it does |", "|---|---|---|"]
    for info in steps:
        summary = info.description.split("\n\n", 1)[0].replace("\n", " ")
        parts.append(f"| [`{info.name}`](#{_anchor(info.name)}) | {info.plugin} | {summary} |")
    for info in steps:
        parts.append("")
        parts.extend(_section(info))
    return "\n".join(parts) + "\n"


def _anchor(name: str) -> str:
    return name.replace(".", "")


def _section(info: StepInfo) -> list[str]:
    retry = info.retry
    retry_text = (
        f"{retry.attempts} attempts, backoff {retry.backoff:g}s, factor {retry.factor:g}"
        if retry
        else "one attempt"
    )
    flags = [
        f"plugin `{info.plugin}`",
        "heavy (worker pool)" if info.heavy else "inline",
        *(["GPU"] if info.gpu else []),
        *(["streams chunks"] if info.streaming else []),
        "idempotent" if info.idempotent else "not idempotent",
        f"retry: {retry_text}",
    ]
    return [
        f"## `{info.name}`",
        "",
        info.description,
        "",
        " · ".join(flags),
        "",
        "**Inputs**",
        "",
        *_fields(info.inputs_schema()),
        "",
        "**Outputs**",
        "",
        *_fields(info.outputs_schema()),
    ]


def _fields(schema: dict[str, Any]) -> list[str]:
    properties = schema.get("properties") or {}
    if not properties:
        return ["(none)"]
    required = set(schema.get("required") or ())
    rows = ["| name | type | required | default | description |", "|---|---|---|---|---|"]
    for name, field in properties.items():
        default = "" if name in required or "default" not in field else f"`{field['default']!r}`"
        rows.append(
            f"| `{name}` | {type_of(field, schema)} | {'yes' if name in required else 'no'} "
            f"| {default} | {field.get('description', '')} |"
        )
    return rows


def type_of(field: dict[str, Any], root: dict[str, Any]) -> str:
    """A short type name for a JSON Schema fragment (``list[string]``, ``integer | null``)."""
    if "$ref" in field:
        name = field["$ref"].rsplit("/", 1)[-1]
        return type_of(root.get("$defs", {}).get(name, {}), root) if name else "object"
    if "enum" in field:
        return " \\| ".join(f"`{value!r}`" for value in field["enum"])
    if "const" in field:
        return f"`{field['const']!r}`"
    for combinator in ("anyOf", "oneOf"):
        if combinator in field:
            return " \\| ".join(type_of(option, root) for option in field[combinator])
    kind = field.get("type")
    if kind == "array":
        return f"list[{type_of(field.get('items') or {}, root)}]"
    if kind == "object" and "additionalProperties" in field:
        values = field["additionalProperties"]
        inner = type_of(values, root) if isinstance(values, dict) else "any"
        return f"dict[string, {inner}]"
    return str(kind or "any")


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not DOCS.exists() or DOCS.read_text() != text:
            print(f"{DOCS} is stale: run python -m notewell.kernel.pipelines.stepdocs")
            return 1
        return 0
    DOCS.write_text(text)
    print(f"wrote {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
