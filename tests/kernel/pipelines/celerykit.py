"""Step types for the Celery tests (module level, so a ``notewell worker`` subprocess can
import them) and the plugin that registers them.

They talk to the test through files, since they run in another process: ``test.mark``
appends a line (a side effect that must not happen twice), ``test.gate`` appends its
process id to a marker file when it starts and then waits for a gate file to appear.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from pydantic import BaseModel

from notewell.kernel import hookimpl
from notewell.kernel.pipelines import Step, StepContext

PLUGIN_SOURCE = '''
"""The Celery test steps, as a plugin a worker finds in its NOTEWELL_PLUGIN_DIRS."""
import celerykit
import stepkit
from notewell.kernel import hookimpl


@hookimpl
def register_steps():
    return [*stepkit.STEPS, *celerykit.STEPS]
'''
"""A plugin module for a worker's plugin folder: the same steps as the test's server."""


class Mark(Step):
    """Append ``line`` to the file ``path``; not idempotent."""

    name = "test.mark"
    heavy = True
    idempotent = False

    class Inputs(BaseModel):
        path: str
        line: str

    class Outputs(BaseModel):
        lines: int

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        with Path(inputs.path).open("a") as handle:
            handle.write(inputs.line + "\n")
        return self.Outputs(lines=len(Path(inputs.path).read_text().splitlines()))


class Gate(Step):
    """Note its process id in ``marker``, then wait until the file ``gate`` exists.

    When cancelled it writes ``<marker>.cancelled`` if it saw ``ctx.cancelled``."""

    name = "test.gate"
    heavy = True

    class Inputs(BaseModel):
        marker: str
        gate: str

    class Outputs(BaseModel):
        opened: bool

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        with Path(inputs.marker).open("a") as handle:
            handle.write(f"{os.getpid()}\n")
        ctx.log.info("waiting for %s", inputs.gate)
        try:
            while not Path(inputs.gate).exists():
                await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            if ctx.cancelled.is_set():
                Path(inputs.marker + ".cancelled").write_text("saw ctx.cancelled\n")
            raise
        return self.Outputs(opened=True)


class GateOnce(Gate):
    """``test.gate``, declared not idempotent: it must never start twice."""

    name = "test.gate_once"
    idempotent = False


class ServerOnly(Step):
    """A step the test's server has and its workers do not."""

    name = "test.server_only"
    heavy = True

    class Inputs(BaseModel):
        pass

    class Outputs(BaseModel):
        pass

    async def run(self, inputs: Inputs, ctx: StepContext) -> Outputs:
        return self.Outputs()


STEPS: list[type[Step]] = [Mark, Gate, GateOnce]
"""What the workers' plugin registers (with stepkit's steps)."""


class CeleryKit:
    """Registers the Celery test steps in the test's own app."""

    __name__ = "celerykit"

    @hookimpl
    def register_steps(self) -> list[type[Step]]:
        return [*STEPS, ServerOnly]
