"""Birder's results files, written by Birder 0.8.4's own code, for the byte-for-byte tests of the
Swift results writers (Tests/BirderIOTests/ResultsCSVTests.swift).

Run from the repository root with the reference environment:

    /work/venv-ref/bin/python tools/reference/make_results_fixtures.py

Writes Tests/Fixtures/results/:
  inputs.json            what each file was made from: sample names, labels (-1: none), class
                         names, and float32 probabilities / logits as bit patterns (so the Swift
                         side feeds the very same numbers).
  photos.csv             birder.results.classification.Results(...).save() on the fixture photos
                         (Tests/Fixtures/cli/expected.json's Birder probabilities, 4 classes),
                         laid out as an ImageFolder of class folders, one photo without a class.
  edge.csv               Results on 12 classes whose names need CSV quoting, sample names with
                         commas, quotes and non-ASCII, and probabilities from 1e-30 to 1 (every
                         float formatting case polars has: fixed, scientific, signed exponent).
  edge_sparse.csv        SparseResults(..., sparse_k=10).save() of the same.
  edge_output.csv        birder.scripts.predict.save_output (all probabilities, wide) with labels.
  edge_logits.csv        birder.scripts.predict.save_logits without labels.
  edge_floats.csv        polars' CSV of float32 values across the whole range (one column), the
                         reference for the float formatter.
  summaries.json         Birder's `Results.log_short_report()` lines for photos.csv, edge.csv and
                         summary12.csv (12 classes, 40 samples: top-3 accuracy reported).

With --check FILE..., runs `python -m birder.tools results FILE` on each file instead (as a user
would) and prints what it reports.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl

from birder.conf import settings
from birder.results.classification import Results
from birder.results.classification import SparseResults
from birder.scripts.predict import save_logits
from birder.scripts.predict import save_output

OUT = Path("Tests/Fixtures/results")


def bits(a: np.ndarray) -> list[int]:
    return [int(v) for v in np.asarray(a, dtype=np.float32).reshape(-1).view(np.uint32)]


def photos(inputs: dict) -> None:
    expected = json.loads(Path("Tests/Fixtures/cli/expected.json").read_text())
    classes = expected["classes"]
    # the fixture photos as an ImageFolder with class folders (the CLI test builds the same tree)
    samples = ["labelled/Coleoptera/a_chelsea.jpg", "labelled/Lepidoptera/b_coffee.png", "labelled/unsorted/c_chelsea.webp"]
    labels = [0, 3, -1]
    probs = np.array([img["probabilities"] for img in expected["images"]], dtype=np.float32)
    Results(samples, labels, classes, probs).save("photos.csv")
    inputs["photos.csv"] = {"samples": samples, "labels": labels, "classes": classes, "bits": bits(probs)}


def edge(inputs: dict) -> None:
    rng = np.random.default_rng(15)
    classes = [f"class {i}" for i in range(12)]
    classes[1] = "with,comma"
    classes[2] = 'with "quotes"'
    classes[3] = "Lepidoptera – ünïcode"
    samples = sorted([f"data/{c}/img_{i}.jpg" for i, c in enumerate(["a", "b,c", 'q"x', "ü", "z", "a"])])
    samples[0] = "data/a/img,0.jpg"
    samples.sort()
    n = len(samples)
    logits = (rng.standard_normal((n, 12)) * 8).astype(np.float32)
    logits[0, 5] = 80.0  # a near-one-hot row: probabilities down to ~1e-35
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
    labels = [0, 5, -1, 11, 3, -1]
    Results(samples, labels, classes, probs).save("edge.csv")
    SparseResults(samples, labels, classes, output=probs, sparse_k=10).save("edge_sparse.csv")
    save_output(OUT / "edge_output.csv", samples, classes, probs, append=False, labels=np.array(labels, dtype=np.int64))
    save_logits(OUT / "edge_logits.csv", samples, classes, logits, append=False)
    inputs["edge"] = {"samples": samples, "labels": labels, "classes": classes, "bits": bits(probs), "logit_bits": bits(logits)}

    values = [0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1 / 3, 2 / 3, 123456789.0, 3.4028235e38, 1.4e-45, 1.1754944e-38,
              float("nan"), float("inf"), float("-inf"), 9.99e-5, 1e-7, 1.5e-6, 1e-6, 9.999999e12, 1e13, 1.2345678e12]
    for k in range(-45, 39):
        values += [1.5 * 10.0**k, 1.0 * 10.0**k, -7.25 * 10.0**k]
    floats = np.array(values, dtype=np.float32)
    floats = np.concatenate([floats, rng.standard_normal(200).astype(np.float32) * 10.0 ** rng.integers(-12, 14, 200)])
    floats = floats.astype(np.float32)
    pl.DataFrame({"v": floats}).write_csv(OUT / "edge_floats.csv")
    inputs["floats"] = {"bits": bits(floats)}


def summaries(inputs: dict) -> None:
    import logging

    rng = np.random.default_rng(3)
    classes = [f"c{i}" for i in range(12)]
    n = 40
    labels = [int(v) for v in rng.integers(-1, 12, n)]
    logits = rng.standard_normal((n, 12)).astype(np.float32)
    for i, label in enumerate(labels):
        if label >= 0 and i % 3 != 0:
            logits[i, label] += 2.0  # mostly right, some wrong
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    probs = probs.astype(np.float32)
    samples = sorted(f"s{i:03d}.jpg" for i in range(n))
    Results(samples, labels, classes, probs).save("summary12.csv")
    inputs["summary12.csv"] = {"samples": samples, "labels": labels, "classes": classes, "bits": bits(probs)}

    out = {}
    logger = logging.getLogger("birder.results.classification")
    for name in ["photos.csv", "edge.csv", "summary12.csv"]:
        lines: list[str] = []

        class Capture(logging.Handler):
            def emit(self, record):
                lines.append(record.getMessage())

        handler = Capture()
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        Results.load(str(OUT / name)).log_short_report()
        logger.removeHandler(handler)
        out[name] = lines
    (OUT / "summaries.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")


def check(paths: list[str]) -> None:
    for path in paths:
        result = subprocess.run([sys.executable, "-m", "birder.tools", "results", "--short-print", path], capture_output=True, text=True)
        print(f"$ python -m birder.tools results --short-print {path}  -> exit {result.returncode}")
        print((result.stdout + result.stderr).strip())


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--check":
        check(sys.argv[2:])
    else:
        OUT.mkdir(parents=True, exist_ok=True)
        settings.RESULTS_DIR = OUT
        inputs: dict = {}
        photos(inputs)
        edge(inputs)
        summaries(inputs)
        (OUT / "inputs.json").write_text(json.dumps(inputs, indent=1, ensure_ascii=False) + "\n")
        for p in sorted(OUT.glob("*.csv")):
            print(f"{p.name}: {p.stat().st_size} bytes")
