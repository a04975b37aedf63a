"""Large runs: a sharded + merged run against one process over the same photos, the work lost to a
SIGKILL and `--resume`, and `birder merge` of many large shards against copying the same bytes.
Needs the reference venv only to write an rdnet_t checkpoint (random weights: speed does not
depend on them) and numpy for the synthetic merge shards.

Usage (from the repository root, after `swift build -c release`):
    /path/to/venv-reference/bin/python tools/bench/bench_runs.py [--images 2000] [--rounds 2] [--merge-shards 100] [--write]
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIRDER = Path(os.environ.get("BIRDER_BINARY", ROOT / ".build" / "release" / "birder"))
PHOTO = ROOT / "Tests/Fixtures/vision/images/rocket.jpg"  # 640×427
from benchmarks_md import cpu_name, markers, write_section

BEGIN, END = markers("runs")


def timed(cmds: list[list[str]], cwd: Path) -> float:
    """Wall time of commands run concurrently (all must succeed)."""
    start = time.perf_counter()
    procs = [subprocess.Popen(c, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for c in cmds]
    for p, c in zip(procs, cmds):
        _, err = p.communicate()
        if p.returncode != 0:
            sys.exit(f"{' '.join(c)} failed ({p.returncode}):\n{err}")
    return time.perf_counter() - start


def median(values: list[float]) -> float:
    s = sorted(values)
    return s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2


def journal_done(path: Path) -> int:
    try:
        return json.loads(path.read_text())["done"]
    except (OSError, ValueError, KeyError):
        return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--merge-shards", type=int, default=100)
    parser.add_argument("--merge-rows", type=int, default=10_000)
    parser.add_argument("--merge-only", action="store_true", help="only the merge measurement (prints, does not write)")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if not BIRDER.exists():
        sys.exit(f"{BIRDER} not found: run `swift build -c release` first")

    import numpy as np
    from birder.common import fs_ops
    from birder.conf import settings
    from birder.model_registry import registry
    from birder.net.base import get_signature

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        tmp = Path(tmp)
        settings.MODELS_DIR = tmp
        net = registry.net_factory("rdnet_t", 10, 3, size=(224, 224))
        fs_ops.checkpoint_model("rdnet_t_bench", None, net, get_signature((1, 3, 224, 224), 10),
                                {str(i): i for i in range(10)}, {"mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25)},
                                None, None, None, None)
        model = str(fs_ops.model_path("rdnet_t_bench"))
        single, sharded, resume_line = [1.0], [1.0], ""
        if args.merge_only:
            args.images = 0
        photos = tmp / "photos"
        photos.mkdir()
        for i in range(args.images):
            shutil.copy(PHOTO, photos / f"{i:05d}.jpg")
        if not args.merge_only:
            subprocess.run([str(BIRDER), "manifest", str(photos), "--output", str(tmp / "manifest.tsv")], check=True,
                           stderr=subprocess.DEVNULL)
        base = [str(BIRDER), "embed", "--files-from", "manifest.tsv", "--model", model, "--batch-size", str(args.batch_size)]

        # 1. One process on both cores, against two shards of one core each (as a 2-task array
        #    on this machine would run) plus their merge. Interleaved rounds.
        if not args.merge_only:
            single, sharded = [], []
        for r in range(0 if args.merge_only else args.rounds):
            for f in tmp.glob("out*"):
                f.unlink()
            single.append(timed([base + ["--threads", "2", "--output", f"out-single-{r}.npy"]], tmp))
            shards = timed([base + ["--threads", "1", "--output", f"out-{r}.npy", "--shard", f"{i}/2"] for i in range(2)], tmp)
            merge = timed([[str(BIRDER), "merge", f"out-{r}.shard-0000-of-0002.npy", f"out-{r}.shard-0001-of-0002.npy",
                            "--output", f"out-merged-{r}.npy"]], tmp)
            sharded.append(shards + merge)
            same = (tmp / f"out-merged-{r}.npy").read_bytes() == (tmp / f"out-single-{r}.npy").read_bytes()
            print(f"round {r}: single {args.images / single[-1]:.2f} img/s, 2 shards + merge {args.images / sharded[-1]:.2f} img/s "
                  f"(merge {merge:.2f} s), identical: {same}", flush=True)
            if not same:
                sys.exit("merged output differs from the single process's")

        # 2. SIGKILL at about 40 %, then --resume: what the journal had, what was computed again.
        if not args.merge_only:
            output = tmp / "killed.npy"
            proc = subprocess.Popen(base + ["--threads", "2", "--output", output.name], cwd=tmp,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            journal = Path(str(output) + ".journal")
            while proc.poll() is None and journal_done(journal) < int(args.images * 0.4):
                time.sleep(0.01)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            at_kill = journal_done(journal)
            result = subprocess.run(base + ["--threads", "2", "--output", output.name, "--resume"], cwd=tmp,
                                    capture_output=True, text=True, check=True)
            resumed_after = next(int(line.split()[2]) for line in result.stderr.splitlines() if line.startswith("resumed after"))
            resume_line = (f"SIGKILL at {at_kill} of {args.images} images journaled; `--resume` continued after {resumed_after} "
                           f"(the journal is rewritten after every batch, so at most one batch, {args.batch_size} images, is computed again)")

        # 3. merge of many large shards against copying the same bytes (cat), both from a cold-ish
        #    page cache is not possible here; both read files just written, so both are in memory.
        shards_dir = tmp / "merge"
        shards_dir.mkdir()
        width, rows, count = 1040, args.merge_rows, args.merge_shards
        identity = {"command": "embed", "format": "npy", "settings": "", "listHash": "0" * 64, "images": rows * count,
                    "model": "sha256:" + "0" * 64}
        rng = np.random.default_rng(0)
        block = rng.standard_normal((rows, width), dtype=np.float32)
        paths = []
        for i in range(count):
            path = shards_dir / f"e.shard-{i:04d}-of-{count:04d}.npy"
            np.save(path, block)
            Path(str(path) + ".samples.txt").write_text("".join(f"img/{i:04d}/{j:06d}.jpg\n" for j in range(rows)))
            record = {"record": "birder shard done v1", "identity": {**identity, "shard": {"index": i, "count": count}},
                      "rows": rows, "failed": 0, "outputs": [str(path), str(path) + ".samples.txt"],
                      "network": "rdnet_t", "engine": "synthetic"}
            Path(str(path) + ".done").write_text(json.dumps(record))
            paths.append(str(path))
        total_bytes = sum(os.path.getsize(p) + os.path.getsize(p + ".samples.txt") for p in paths)
        copy_times, merge_times, merge_rss = [], [], []
        for r in range(args.rounds):
            start = time.perf_counter()
            with open(tmp / "copy.bin", "wb") as out:
                subprocess.run(["cat"] + [q for p in paths for q in (p, p + ".samples.txt")], stdout=out, check=True)
                os.fsync(out.fileno())
            copy_times.append(time.perf_counter() - start)
            (tmp / "copy.bin").unlink()
            # Peak RSS of the merge process alone (GNU time), not of every child so far.
            start = time.perf_counter()
            result = subprocess.run(["/usr/bin/time", "-f", "%M", str(BIRDER), "merge", *paths, "--output", "merged.npy"],
                                    cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            merge_times.append(time.perf_counter() - start)
            if result.returncode != 0:
                sys.exit(f"merge failed:\n{result.stderr}")
            merge_rss.append(int(result.stderr.strip().splitlines()[-1]) / 1024)
            (tmp / "merged.npy").unlink()
            (tmp / "merged.npy.samples.txt").unlink()
            print(f"merge round {r}: copy {total_bytes / copy_times[-1] / 1e6:.0f} MB/s, merge {total_bytes / merge_times[-1] / 1e6:.0f} MB/s",
                  flush=True)

    copy_speed, merge_speed = total_bytes / median(copy_times) / 1e6, total_bytes / median(merge_times) / 1e6
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {cpu_name()}, {os.cpu_count()} cores; release build; rdnet_t (random weights), "
        f"{args.images} copies of a 640×427 JPEG, batch {args.batch_size}; medians of {args.rounds} interleaved rounds.",
        "",
        "| run | wall (s) | images/s | vs one process |",
        "|---|---:|---:|---:|",
        f"| one process, 2 threads | {median(single):.1f} | {args.images / median(single):.2f} | 1.00 |",
        f"| 2 shards × 1 thread at once, then `merge` | {median(sharded):.1f} | {args.images / median(sharded):.2f} | "
        f"{median(single) / median(sharded):.2f} |",
        "",
        f"Resume: {resume_line}.",
        "",
        f"`birder merge` of {count} shards of {rows:,}×{width} float32 (.npy + sample lists, {total_bytes / 1e9:.2f} GB): "
        f"{merge_speed:.0f} MB/s against {copy_speed:.0f} MB/s for `cat` of the same files (both fsynced), "
        f"{merge_speed / copy_speed:.2f}× copy speed; peak RSS of merge {max(merge_rss):.0f} MB (one shard is "
        f"{rows * width * 4 / 1e6:.0f} MB; the rows are copied through one 4 MB buffer: memory follows neither the shard nor the row count).",
        "",
        f"Reproduce: `swift build -c release && python tools/bench/bench_runs.py --images {args.images} --rounds {args.rounds} "
        f"--merge-shards {count} --write`",
    ]
    print("\n".join(lines))
    if args.write and not args.merge_only:
        write_section("runs", "Large runs: shards, resume, merge", "\n".join([BEGIN, *lines, END]))


if __name__ == "__main__":
    main()
