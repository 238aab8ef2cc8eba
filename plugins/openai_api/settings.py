"""Settings of the OpenAI-compatible API (``NOTEWELL_OPENAI_API__<NAME>``, ``[openai_api]``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from notewell.kernel.settings import PluginSettings


class OpenAIApiSettings(PluginSettings):
    """How API calls are recorded."""

    section: ClassVar[str] = "openai_api"

    record_runs: bool = Field(
        True, description="Record each completion and embedding call as a pipeline run."
    )
    chunk_events_s: float = Field(
        0.0,
        ge=0,
        description="Publish a streamed answer's text on the bus (run.chunk) at most this "
        "often, for run viewers; 0 publishes none (the record keeps the whole answer).",
    )
    completion_pipeline: str = Field("openai-chat", description="Pipeline of completions.")
    embedding_pipeline: str = Field("openai-embeddings", description="Pipeline of embeddings.")
