"""Side-by-side inference benchmark: PyTorch (Birder 0.8.4, eager), ONNX Runtime and this
engine (`birder bench`), same network, batch size, thread count and machine, in one run.

Usage (from the repository root, after `swift build -c release`):
    /path/to/venv-reference/bin/python tools/bench/bench_models.py \
        [--networks rdnet_t vit_b16_pn] [--batch-size 8] [--threads 2] [--iterations 5] \
        [--precision fp32|bf16|both] [--engines ENGINE ...] [--write]

Engines by precision:
- fp32: `torch` (eager, inference_mode), `onnxruntime` (the same graph exported to ONNX, fp32
  only), `birder-swift` (`birder bench`);
- bf16: `torch-bf16` (the same, under `torch.autocast("cpu", dtype=torch.bfloat16)`: PyTorch's
  one-line bf16 mode) and `birder-swift-bf16` (`birder bench --precision bf16`).
`--precision both` runs all five interleaved, so the bf16 table can compare this engine's bf16
with its own fp32 of the same run. `--engines` keeps a subset (e.g. the Python ones alone).

Prints Markdown tables; `--write` replaces this CPU model's section of BENCHMARKS.md with them
(one section per CPU model seen, `models-zen3`, `models-zen4`, …; the others stay as they are).
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
from benchmarks_md import cpu_flags, cpu_generation, cpu_name, markers, vector_isa, write_section

FP32_ENGINES = ["torch", "onnxruntime", "birder-swift"]
BF16_ENGINES = ["torch-bf16", "birder-swift-bf16"]
SWIFT_ENGINES = {"birder-swift": "fp32", "birder-swift-bf16": "bf16"}

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
elif engine == "torch-bf16":
    def run():
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
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
print(json.dumps({"images_per_second": batch / times[len(times) // 2],
                  "instruction_set": "pytorch " + torch.backends.cpu.get_cpu_capability()}))
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


def engines_for(precision: str, chosen: list[str] | None) -> list[str]:
    available = {"fp32": FP32_ENGINES, "bf16": BF16_ENGINES, "both": FP32_ENGINES + BF16_ENGINES}[precision]
    if chosen is None:
        return available
    unknown = [e for e in chosen if e not in available]
    if unknown:
        sys.exit(f"--engines {' '.join(unknown)}: not an engine of --precision {precision} ({', '.join(available)})")
    return [e for e in available if e in chosen]


def instruction_sets(measured: dict) -> str:
    """What the CPU offers and what each engine family reported using."""
    parts = [f"CPU vector instructions: {vector_isa()}"]
    swift = next((r for e, (r, _) in measured.items() if e in SWIFT_ENGINES and "instruction_set" in r), None)
    if swift is not None:
        kernels = f"this engine's kernels: {swift['instruction_set']}"
        if "bf16_native" in swift and any(e == "birder-swift-bf16" for e in measured):
            kernels += ", bf16 " + ("native (vdpbf16ps)" if swift["bf16_native"] else "emulated (bf16 inputs, fp32 products)")
        parts.append(kernels)
    torch_run = next((r for e, (r, _) in measured.items() if e.startswith("torch") and "instruction_set" in r), None)
    if torch_run is not None:
        parts.append(f"PyTorch's CPU capability: {torch_run['instruction_set'].removeprefix('pytorch ')}")
    bf16_flag = "avx512_bf16" in cpu_flags()
    if any(e in BF16_ENGINES for e in measured):
        parts.append("AVX512-BF16 " + ("present" if bf16_flag else "absent: every bf16 product is emulated in fp32 units"))
    return "; ".join(parts)


def table(precision: str, rows: list[tuple], args, cpu_label: str, measured_isa: str) -> str:
    """One Markdown section (markers included) for `precision`'s engines."""
    slug = cpu_generation()[1]
    begin, end = markers(section_name(precision, slug))
    if precision == "fp32":
        header = "| network | engine | images/s | × PyTorch | × ONNX Runtime | peak RSS (MB) |"
        align = "|---|---|---:|---:|---:|---:|"
        ratio_names = ()
    else:
        header = "| network | engine | images/s | × PyTorch bf16 | × this engine fp32 | × PyTorch fp32 | peak RSS (MB) |"
        align = "|---|---|---:|---:|---:|---:|---:|"
        ratio_names = ("× PyTorch bf16", "× this engine fp32 (birder-swift)", "× PyTorch fp32")
    lines = [
        begin,
        f"Measured {time.strftime('%Y-%m-%d')} on {cpu_label}, {os.cpu_count()} cores, {args.threads} threads, "
        f"batch {args.batch_size}, 224×224, {precision}; {measured_isa}. Each engine: median of {args.iterations} timed "
        f"passes after 2 warm-up passes, then the median of {args.rounds} interleaved rounds; forward pass to the "
        "embedding; peak RSS of the whole process. Ratios: of the medians, and in brackets the lowest and highest "
        "ratio within one round (engines run back to back); — where the reference engine was not in this run"
        + (" (" + ", ".join(ratio_names) + ")." if ratio_names else "."),
        "",
        header,
        align,
    ]
    for row in rows:
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Reproduce: `swift build -c release && " + " ".join(
        ["python", "tools/bench/bench_models.py", "--networks", *args.networks, "--batch-size", str(args.batch_size),
         "--threads", str(args.threads), "--iterations", str(args.iterations), "--rounds", str(args.rounds),
         "--precision", args.precision, *(["--engines", *args.engines] if args.engines else []),
         "--write"]) + "`", end]
    return "\n".join(lines)


def section_name(precision: str, slug: str) -> str:
    """BENCHMARKS.md keeps one fp32 and one bf16 section per CPU model: `models-zen3`, `models-bf16-zen3`."""
    return f"models-{slug}" if precision == "fp32" else f"models-{precision}-{slug}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--networks", nargs="+", default=["rdnet_t", "vit_b16_pn"])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3,
                        help="engines run interleaved this many times; each engine's median round is reported")
    parser.add_argument("--precision", choices=["fp32", "bf16", "both"], default="fp32",
                        help="fp32: torch, onnxruntime, birder-swift; bf16: torch-bf16 (autocast), birder-swift-bf16; both: all")
    parser.add_argument("--engines", nargs="+", metavar="ENGINE",
                        help=f"run only these of the precision's engines ({', '.join(FP32_ENGINES + BF16_ENGINES)})")
    parser.add_argument("--write", action="store_true", help="update this CPU model's sections of BENCHMARKS.md")
    parser.add_argument("--birder", type=Path, default=BIRDER,
                        help="the birder binary (default: .build/release/birder; e.g. a build with --scratch-path elsewhere)")
    args = parser.parse_args()
    engines = engines_for(args.precision, args.engines)
    if any(e in SWIFT_ENGINES for e in engines) and not args.birder.exists():
        sys.exit(f"{args.birder} not found: run `swift build -c release` first (or leave out "
                 f"{', '.join(e for e in engines if e in SWIFT_ENGINES)} with --engines)")

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads))
    rows = {"fp32": [], "bf16": []}
    all_measured = {}
    with tempfile.TemporaryDirectory() as tmp:
        for network in args.networks:
            onnx_path = str(Path(tmp) / f"{network}.onnx")
            def worker(engine: str) -> list[str]:
                return [sys.executable, "-c", WORKER, engine, network, str(args.batch_size), str(args.threads),
                        str(args.iterations), onnx_path]
            commands = {}
            for engine in engines:
                if engine in SWIFT_ENGINES:
                    commands[engine] = [str(args.birder), "bench", "--network", network, "--batch-size", str(args.batch_size),
                                        "--iterations", str(args.iterations), "--threads", str(args.threads), "--json"]
                    # Only the bf16 engine passes --precision: an fp32 run works with binaries older than the option.
                    if SWIFT_ENGINES[engine] == "bf16":
                        commands[engine] += ["--precision", "bf16"]
                else:
                    commands[engine] = worker(engine)
            if "onnxruntime" in commands:
                timed(worker("export"), env)
            # Interleaved rounds, so a passing load on the machine touches every engine alike.
            rounds = {engine: [] for engine in commands}
            for _ in range(args.rounds):
                for engine, cmd in commands.items():
                    rounds[engine].append(timed(cmd, env))
            measured = {engine: sorted(results, key=images_per_second)[len(results) // 2]
                        for engine, results in rounds.items()}
            all_measured.update(measured)

            def ratio(engine: str, reference: str) -> str:
                # The engines of one round ran back to back under the same load: their ratio is a
                # paired measurement, and its range over the rounds shows how settled the median is.
                if reference not in measured:
                    return "—"
                value = images_per_second(measured[engine]) / images_per_second(measured[reference])
                return ratio_cell(value, rounds[engine], rounds[reference], engine == reference)

            for engine, (result, rss) in measured.items():
                cells = [network, engine, f"{result['images_per_second']:.2f}"]
                if engine in FP32_ENGINES:
                    rows["fp32"].append((*cells, ratio(engine, "torch"), ratio(engine, "onnxruntime"), f"{rss:.0f}"))
                else:
                    rows["bf16"].append((*cells, ratio(engine, "torch-bf16"), ratio(engine, "birder-swift"),
                                         ratio(engine, "torch"), f"{rss:.0f}"))
            print(f"{network}: done", file=sys.stderr)

    label, slug = cpu_generation()
    cpu_label = f"{cpu_name()} ({label})" if label != cpu_name() else cpu_name()
    isa = instruction_sets(all_measured)
    present = re.findall(r"<!-- (models-[a-z0-9-]+):end -->", (ROOT / "BENCHMARKS.md").read_text()) \
        if (ROOT / "BENCHMARKS.md").exists() else []
    for precision in ("fp32", "bf16"):
        if not rows[precision]:
            continue
        text = table(precision, rows[precision], args, cpu_label, isa)
        print(text)
        print()
        if args.write:
            write_section(section_name(precision, slug), f"Models: forward pass, {precision}, {label}", text, after=present)
            present.append(section_name(precision, slug))


if __name__ == "__main__":
    main()
