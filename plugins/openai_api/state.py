"""The OpenAI-compatible API's service for one kernel, built at start-up."""

from __future__ import annotations

import logging
import weakref
from typing import Any

from notewell.kernel.errors import NotewellError, ServiceUnavailable
from notewell.kernel.pipelines import CallPipeline
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
    """Build the service: settings read once, the pipelines calls are recorded as found."""
    settings: OpenAIApiSettings = kernel.settings.plugin(OpenAIApiSettings.section)
    service = OpenAIService(kernel, settings)
    kinds = (("chat", settings.completion_pipeline), ("embeddings", settings.embedding_pipeline))
    for kind, name in kinds if settings.record_runs else ():
        try:
            loaded = await kernel.pipelines.find(name)
        except NotewellError:
            log.warning("pipeline %s not found: /v1 calls of this kind are not recorded", name)
            continue
        service.pipelines[kind] = CallPipeline.of(loaded)
    _SERVICES[kernel] = service
    return service


async def stop(kernel: Any) -> None:
    _SERVICES.pop(kernel, None)
