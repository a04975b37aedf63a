"""Clustering-evaluation benchmark: Birder's AMI pipeline (umap-learn + scikit-learn) against ours.

    /work/venv-ref/bin/python tools/bench/bench_eval.py data   [--n 40000] [--dim 1040] [--out /tmp/evalbench]
    /work/venv-ref/bin/python tools/bench/bench_eval.py python [--out /tmp/evalbench] [--seed 0]
    /work/venv-ref/bin/python tools/bench/bench_eval.py swift  [--out /tmp/evalbench] [--seed 0] [--command CMD]
    /work/venv-ref/bin/python tools/bench/bench_eval.py all    [--n 40000] [--dim 1040] [--command CMD] [--write]

`data` writes synthetic BIOSCAN-genus-like embeddings: 400 genera in 40 families (Zipf-sized, so
a few hundred classes actually occur), a 48-dimensional latent structure lifted to `dim` through a
random projection and tanh, plus isotropic noise. Files: embeddings.npy (float32 n × dim),
labels.npy (int64), the same as raw embeddings.f32 / labels.i32, and for `birder cluster` the sample
list embeddings.npy.samples.txt and labels.csv (sample,label).

`python` runs birder.eval.methods.ami.evaluate_ami (L2 → umap-learn 50-d → AgglomerativeClustering
ward → adjusted_mutual_info_score) under /usr/bin/time -v; `swift` runs our pipeline the same way.
By default the Swift side is the CLI the lead wires:
    .build/release/birder cluster --data OUT/embeddings.npy --labels OUT/labels.csv --seed SEED
Until then, pass --command with any command line that prints the AMI on its last line, e.g. the
env-gated release test (see Tests/BirderEvalTests/ClusteringBenchmark.swift):
    --command "swift test -c release -Xswiftc -enable-testing --skip-build --filter ClusteringBenchmark"
Each run prints wall time, peak resident memory and the AMI, and appends them to OUT/results.json.
`all` makes the data when missing, runs both, and prints a Markdown table (with --write, between
the clustering markers of BENCHMARKS.md).
"""

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks_md import cpu_name, markers, write_section


def make_data(n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    genera, families, latent = 400, 40, 48
    family_centres = rng.normal(size=(families, latent))
    genus_centres = family_centres[rng.integers(0, families, genera)] + 0.4 * rng.normal(size=(genera, latent))
    weights = np.minimum(rng.zipf(1.6, genera).astype(float), 50)
    labels = rng.choice(genera, size=n, p=weights / weights.sum())
    z = genus_centres[labels] + 0.5 * rng.normal(size=(n, latent))
    lift = rng.normal(size=(latent, dim)) / np.sqrt(latent)
    x = np.tanh(z @ lift) + 0.05 * rng.normal(size=(n, dim))
    return x.astype(np.float32), labels.astype(np.int64)


def timed(command: list[str], env: dict | None = None) -> dict:
    start = time.time()
    proc = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, env=env)
    wall = time.time() - start
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"command failed: {' '.join(command)}")
    amis = re.findall(r"AMI[^0-9-]*(-?[0-9.]+(?:e-?\d+)?)", proc.stdout)
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(int(peak.group(1)) / 1024, 1) if peak else None,
            "ami": float(amis[-1]) if amis else None, "stdout_tail": proc.stdout[-1500:]}


def record(out: Path, name: str, result: dict) -> None:
    path = out / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results[name] = result
    path.write_text(json.dumps(results, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "stdout_tail"}))


PYTHON_RUN = """
import sys, time, numpy as np
from birder.eval.methods.ami import evaluate_ami
x = np.load(sys.argv[1]); y = np.load(sys.argv[2]); seed = int(sys.argv[3])
t = time.time()
ami = evaluate_ami(x, y, n_clusters=len(np.unique(y)), umap_dim=50, l2_normalize_features=True, seed=seed)
print(f"evaluate_ami seconds {time.time() - t:.2f}")
print(f"AMI {ami}")
"""


ROOT = Path(__file__).resolve().parents[2]
BEGIN, END = markers("clustering")


def table(args: argparse.Namespace, python: dict, swift: dict, classes: int) -> str:
    cpu = cpu_name()
    rows = [("umap-learn 0.5.12 + scikit-learn (Birder's evaluate_ami)", python),
            ("birder-swift", swift)]
    lines = [
        BEGIN,
        f"Measured {time.strftime('%Y-%m-%d')} on {cpu}, {os.cpu_count()} cores; {args.n} × {args.dim} synthetic "
        f"embeddings in {classes} classes (tools/bench/bench_eval.py), seed {args.seed}; L2-normalise → UMAP 50-d → "
        "Ward (k = classes) → AMI; wall time and peak RSS of the whole process.",
        "",
        "| engine | wall (s) | × faster | peak RSS (MB) | memory ratio | AMI |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows:
        lines.append(f"| {name} | {r['wall_s']:.1f} | {python['wall_s'] / r['wall_s']:.2f} | {r['peak_rss_mb']:.0f} | "
                     f"{r['peak_rss_mb'] / python['peak_rss_mb']:.3f} | {r['ami']:.4f} |")
    lines += ["", "Reproduce: `swift build -c release && python tools/bench/bench_eval.py all "
              f"--n {args.n} --dim {args.dim} --write`", END]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["data", "python", "swift", "all"])
    parser.add_argument("--out", default="/tmp/evalbench")
    parser.add_argument("--n", type=int, default=40000)
    parser.add_argument("--dim", type=int, default=1040)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--command", default=None)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.what == "data" or (args.what == "all" and not (out / "embeddings.npy").exists()):
        x, y = make_data(args.n, args.dim)
        np.save(out / "embeddings.npy", x)
        np.save(out / "labels.npy", y)
        x.astype("<f4").tofile(out / "embeddings.f32")
        y.astype("<i4").tofile(out / "labels.i32")
        (out / "shape.txt").write_text(f"{x.shape[0]} {x.shape[1]}\n")

        print(f"{x.shape[0]} × {x.shape[1]} embeddings, {len(np.unique(y))} classes → {out}")
    if (out / "labels.npy").exists() and not (out / "labels.csv").exists():
        # What `birder cluster` reads: the sample list beside the .npy, labels as sample,label.
        y = np.load(out / "labels.npy")
        (out / "embeddings.npy.samples.txt").write_text("".join(f"s{i}\n" for i in range(len(y))))
        (out / "labels.csv").write_text("sample,label\n" + "".join(f"s{i},{label}\n" for i, label in enumerate(y)))
    if args.what in ("python", "all"):
        python = timed([sys.executable, "-c", PYTHON_RUN, str(out / "embeddings.npy"), str(out / "labels.npy"), str(args.seed)])
        record(out, f"python_seed{args.seed}", python)
    if args.what in ("swift", "all"):
        repo = ROOT
        if args.command:
            command = shlex.split(args.command)
        else:
            command = [str(repo / ".build/release/birder"), "cluster", "--data", str(out / "embeddings.npy"),
                       "--labels", str(out / "labels.csv"), "--seed", str(args.seed)]
        env = dict(os.environ, BIRDER_EVAL_BENCH=str(out), BIRDER_EVAL_BENCH_SEED=str(args.seed))
        swift = timed(command, env)
        record(out, f"swift_seed{args.seed}", swift)
    if args.what == "all":
        classes = len(np.unique(np.load(out / "labels.npy")))
        args.n, args.dim = (int(v) for v in (out / "shape.txt").read_text().split())
        text = table(args, python, swift, classes)
        print(text)
        if args.write:
            write_section("clustering", "Clustering evaluation (AMI pipeline)", text)


if __name__ == "__main__":
    main()
