"""Side-by-side inference benchmark: PyTorch (Birder 0.8.4, eager), ONNX Runtime and this
engine (`birder bench`), same network, batch size, thread count and machine, in one run.

Usage (from the repository root, after `swift build -c release`):
    /path/to/venv-reference/bin/python tools/bench/bench_models.py \
        [--networks rdnet_t vit_b16_pn] [--batch-size 8] [--threads 2] [--iterations 5] [--write]

Prints a Markdown table; `--write` replaces the model section of BENCHMARKS.md with it.
Each engine runs in its own process under /usr/bin/time -v, so peak memory is measured too.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIRDER = ROOT / ".build" / "release" / "birder"
from benchmarks_md import cpu_name, markers, write_section

BEGIN, END = markers("models")

WORKER = r'''
import json, sys, time
import numpy as np
import torch
engine, network, batch, threads, iterations, onnx_path = sys.argv[1:7]
batch, threads, iterations = int(batch), int(threads), int(iterations)
torch.set_num_threads(threads)
torch.set_num_interop_threads(1)
from birder.model_registry import registry
net = registry.net_factory(network, 1000, 3, size=(224, 224)).eval()
x = torch.randn(batch, 3, 224, 224)
if engine == "torch":
    def run():
        with torch.inference_mode():
            net.embedding(x)
else:
    import onnxruntime as ort
    class Embed(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net
        def forward(self, x):
            return self.net.embedding(x)
    if engine == "export":  # its own process, before the rounds: not in any measured process's RSS
        torch.onnx.export(Embed(net), (x,), onnx_path, input_names=["x"], output_names=["e"],
                          dynamic_axes={"x": {0: "n"}}, opset_version=17, dynamo=False)
        print(json.dumps({"exported": onnx_path}))
        sys.exit(0)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    xn = x.numpy()
    def run():
        session.run(None, {"x": xn})
run(); run()
times = []
for _ in range(iterations):
    t = time.perf_counter(); run(); times.append(time.perf_counter() - t)
times.sort()
print(json.dumps({"images_per_second": batch / times[len(times) // 2]}))
'''


def timed(cmd: list[str], env: dict) -> tuple[dict, float]:
    """Runs `cmd` under /usr/bin/time -v; returns its last stdout line as JSON and peak RSS in MB."""
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result, int(rss.group(1)) / 1024 if rss else float("nan")


def images_per_second(run: tuple[dict, float]) -> float:
    return run[0]["images_per_second"]


def ratio_cell(median_ratio: float, engine_rounds: list, reference_rounds: list, is_reference: bool) -> str:
    """The ratio of the medians and, in brackets, its lowest and highest value within one round."""
    if is_reference:
        return f"{median_ratio:.2f}"
    paired = [images_per_second(e) / images_per_second(r) for e, r in zip(engine_rounds, reference_rounds)]
    return f"{median_ratio:.2f} ({min(paired):.2f}–{max(paired):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--networks", nargs="+", default=["rdnet_t", "vit_b16_pn"])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3,
                        help="engines run interleaved this many times; each engine's median round is reported")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    if not BIRDER.exists():
        sys.exit(f"{BIRDER} not found: run `swift build -c release` first")

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for network in args.networks:
            onnx_path = str(Path(tmp) / f"{network}.onnx")
            def worker(engine: str) -> list[str]:
                return [sys.executable, "-c", WORKER, engine, network, str(args.batch_size), str(args.threads),
                        str(args.iterations), onnx_path]
            commands = {engine: worker(engine) for engine in ("torch", "onnxruntime")}
            commands["birder-swift"] = [str(BIRDER), "bench", "--network", network, "--batch-size", str(args.batch_size),
                                        "--iterations", str(args.iterations), "--threads", str(args.threads), "--json"]
            timed(worker("export"), env)
            # Interleaved rounds, so a passing load on the machine touches every engine alike.
            rounds = {engine: [] for engine in commands}
            for _ in range(args.rounds):
                for engine, cmd in commands.items():
                    rounds[engine].append(timed(cmd, env))
            measured = {engine: sorted(results, key=images_per_second)[len(results) // 2]
                        for engine, results in rounds.items()}
            torch_ips = images_per_second(measured["torch"])
            ort_ips = images_per_second(measured["onnxruntime"])
            for engine, (result, rss) in measured.items():
                ips = result["images_per_second"]
                # The engines of one round ran back to back under the same load: their ratio is a
                # paired measurement, and its range over the rounds shows how settled the median is.
                rows.append((network, engine, ips, rss,
                             ratio_cell(ips / torch_ips, rounds[engine], rounds["torch"], engine == "torch"),
                             ratio_cell(ips / ort_ips, rounds[engine], rounds["onnxruntime"], engine == "onnxruntime")))
            print(f"{network}: done", file=sys.stderr)

    cpu = cpu_name()
    lines = [
        BEGIN,
        f"Measured {time.strftime('%Y-%m-%d')} on {cpu}, {os.cpu_count()} cores, {args.threads} threads, "
        f"batch {args.batch_size}, 224×224; each engine: median of {args.iterations} timed passes after 2 warm-up passes, "
        f"then the median of {args.rounds} interleaved rounds; forward pass to the embedding; peak RSS of the whole process. "
        "Ratios: of the medians, and in brackets the lowest and highest ratio within one round (engines run back to back).",
        "",
        "| network | engine | images/s | × PyTorch | × ONNX Runtime | peak RSS (MB) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for network, engine, ips, rss, vs_torch, vs_ort in rows:
        lines.append(f"| {network} | {engine} | {ips:.2f} | {vs_torch} | {vs_ort} | {rss:.0f} |")
    lines += ["", "Reproduce: `swift build -c release && " + " ".join(
        ["python", "tools/bench/bench_models.py", "--networks", *args.networks, "--batch-size", str(args.batch_size),
         "--threads", str(args.threads), "--iterations", str(args.iterations), "--rounds", str(args.rounds),
         "--write"]) + "`", END]
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_section("models", "Models: forward pass, batch 8", table)

if __name__ == "__main__":
    main()
