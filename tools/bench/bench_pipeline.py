"""End-to-end throughput: `birder predict` over a folder of 640×427 JPEGs against `birder bench`
(the forward pass alone) for the same network and batch size, plus the per-image cost of decoding
and of the inference transform. Needs the reference venv only to write a Birder checkpoint.

Usage (from the repository root, after `swift build -c release`):
    /path/to/venv-reference/bin/python tools/bench/bench_pipeline.py [--images 96] [--batch-size 8] [--threads 2] [--write]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIRDER = ROOT / ".build" / "release" / "birder"
PHOTO = ROOT / "Tests/Fixtures/vision/images/rocket.jpg"  # 640×427
from benchmarks_md import cpu_name, markers, write_section

BEGIN, END = markers("pipeline")


def run_json(cmd: list[str]) -> dict:
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if not BIRDER.exists():
        sys.exit(f"{BIRDER} not found: run `swift build -c release` first")

    from birder.common import fs_ops
    from birder.conf import settings
    from birder.model_registry import registry
    from birder.net.base import get_signature

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        settings.MODELS_DIR = tmp
        net = registry.net_factory("rdnet_t", 10, 3, size=(224, 224))
        fs_ops.checkpoint_model("rdnet_t_bench", None, net, get_signature((1, 3, 224, 224), 10),
                                {str(i): i for i in range(10)}, {"mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25)},
                                None, None, None, None)
        checkpoint = fs_ops.model_path("rdnet_t_bench")
        photos = tmp / "photos"
        photos.mkdir()
        for i in range(args.images):
            shutil.copy(PHOTO, photos / f"{i:05d}.jpg")

        threads = ["--threads", str(args.threads)]
        bench = run_json([str(BIRDER), "bench", "--network", "rdnet_t", "--batch-size", str(args.batch_size),
                          "--iterations", "5", "--json", *threads])
        start = time.perf_counter()
        subprocess.run([str(BIRDER), "predict", str(photos), "--model", str(checkpoint), "--network", "rdnet_t",
                        "--batch-size", str(args.batch_size), "--output", str(tmp / "predictions.csv"), *threads],
                       check=True, capture_output=True)
        predict_ips = args.images / (time.perf_counter() - start)
        prep = run_json([str(BIRDER), "bench", "--image", str(PHOTO), "--iterations", "50", "--json"])

    cpu = cpu_name()
    table = "\n".join([
        BEGIN,
        f"Measured {time.strftime('%Y-%m-%d')} on {cpu}, {os.cpu_count()} cores, {args.threads} threads, rdnet_t, "
        f"batch {args.batch_size}; predict over {args.images} copies of a 640×427 JPEG, wall time of the whole command "
        "(model loading included).",
        "",
        "| what | value |",
        "|---|---:|",
        f"| `birder bench` forward pass | {bench['images_per_second']:.2f} images/s |",
        f"| `birder predict` end to end | {predict_ips:.2f} images/s |",
        f"| predict / bench | {predict_ips / bench['images_per_second'] * 100:.0f} % |",
        f"| decode 640×427 JPEG | {prep['decode_ms']:.2f} ms/image |",
        f"| resize to 224×224 + normalise | {prep['transform_ms']:.2f} ms/image |",
        "",
        "Reproduce: `swift build -c release && python tools/bench/bench_pipeline.py "
        f"--images {args.images} --batch-size {args.batch_size} --threads {args.threads} --write`",
        END,
    ])
    print(table)
    if args.write:
        write_section("pipeline", "Pipeline: images to predictions", table)

if __name__ == "__main__":
    main()
