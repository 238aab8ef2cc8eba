"""The OpenAI-compatible API's service for one kernel, built at start-up."""

from __future__ import annotations

import logging
import weakref
from typing import Any

from notewell.kernel.errors import NotewellError, ServiceUnavailable
from notewell.plugins.openai_api.recorder import Pipeline, RunRecorder
from notewell.plugins.openai_api.service import OpenAIService
from notewell.plugins.openai_api.settings import OpenAIApiSettings

log = logging.getLogger("notewell.openai_api")

_SERVICES: weakref.WeakKeyDictionary[Any, OpenAIService] = weakref.WeakKeyDictionary()


def service_of(kernel: Any) -> OpenAIService:
    """The service of ``kernel`` (503 before start-up has built it)."""
    service = _SERVICES.get(kernel)
    if service is None:
        raise ServiceUnavailable("The API is starting.", code="starting")
    return service


async def start(kernel: Any) -> OpenAIService:
    """Build the service: settings read once, pipelines found, the recorder running."""
    settings: OpenAIApiSettings = kernel.settings.plugin(OpenAIApiSettings.section)
    recorder = None
    if settings.record_runs:
        recorder = RunRecorder(
            kernel.db,
            kernel,
            kernel.pipelines.reaper.runner_id,
            interval=settings.record_flush_s,
            batch=settings.record_batch,
            backlog=settings.record_backlog,
        )
    service = OpenAIService(kernel, settings, recorder)
    for kind, name in (
        ("chat", settings.completion_pipeline),
        ("embeddings", settings.embedding_pipeline),
    ):
        try:
            loaded = await kernel.pipelines.find(name)
        except NotewellError:
            log.warning("pipeline %s not found: /v1 calls of this kind are not recorded", name)
            continue
        step = loaded.spec.steps[0]
        service.pipelines[kind] = Pipeline(
            name=loaded.spec.name,
            version=loaded.spec.version,
            content_hash=loaded.content_hash,
            spec=loaded.spec.model_dump(mode="json", by_alias=True, exclude_unset=True),
            step_id=step.id,
            uses=step.uses,
        )
    if recorder is not None:
        recorder.start()
    _SERVICES[kernel] = service
    return service


async def stop(kernel: Any) -> None:
    service = _SERVICES.pop(kernel, None)
    if service is not None and service.recorder is not None:
        await service.recorder.stop()
