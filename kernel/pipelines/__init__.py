"""The pipeline engine: YAML pipelines of plugin-provided steps, run and recorded.

What plugins and other kernel parts use:

- the step contract: :class:`Step`, :class:`StepContext`, :class:`StepCancelled`,
  :class:`StepError` (fail with a stable code);
- the format: :class:`PipelineSpec`, :class:`StepSpec`, :class:`InputSpec`,
  :class:`RetrySpec`, :class:`ResourcesSpec`;
- the engine, as ``kernel.pipelines`` (:class:`PipelineService`): ``start_run``,
  ``run``, ``resume``, ``cancel``, ``get``, ``page``, ``call_step``; its records
  :class:`RunRead`, :class:`StepRunRead`, :class:`RunSummary`;
- calls a plugin performs itself on a hot path, recorded as runs of one-step pipelines
  without the runner: ``kernel.pipelines.calls`` with :class:`CallPipeline`, :class:`Call`;
- streamed text for a run's viewers, batched: :class:`TextBatches`;
- the executor contract for new executors: :class:`Executor`, :class:`StepJob`.

docs/runs.md describes running; docs/pipelines.md the file format.
"""

from __future__ import annotations

from notewell.kernel.pipelines.batches import TextBatches
from notewell.kernel.pipelines.calls import Call, CallPipeline
from notewell.kernel.pipelines.errors import StepError, StepFailed
from notewell.kernel.pipelines.executors import Executor, StepJob
from notewell.kernel.pipelines.records import RunRead, RunSummary, StepRunRead
from notewell.kernel.pipelines.registry import StepInfo, StepRegistry
from notewell.kernel.pipelines.service import PipelineService, RunHandle
from notewell.kernel.pipelines.spec import (
    InputSpec,
    PipelineSpec,
    ResourcesSpec,
    RetrySpec,
    StepSpec,
)
from notewell.kernel.pipelines.step import Step, StepCancelled, StepContext

__all__ = [
    "Call",
    "CallPipeline",
    "Executor",
    "InputSpec",
    "PipelineService",
    "PipelineSpec",
    "ResourcesSpec",
    "RetrySpec",
    "RunHandle",
    "RunRead",
    "RunSummary",
    "Step",
    "StepCancelled",
    "StepContext",
    "StepError",
    "StepFailed",
    "StepInfo",
    "StepJob",
    "StepRegistry",
    "StepRunRead",
    "StepSpec",
    "TextBatches",
]
