"""Serving throughput: `birder serve` under 1, 8 and 32 concurrent loopback clients posting real
JPEGs, against `birder predict` on the same photos, network and threads, and against a peer (a
minimal FastAPI + uvicorn + Birder PyTorch server, tools/bench/serving_peer.py) in the same run.
Traffic goes to 127.0.0.1 only and every level is bounded in requests and time. Needs the reference
venv (Birder writes the checkpoint; the peer runs on it) with fastapi and uvicorn installed.

Rounds of the three are interleaved (a shared machine's changing load falls on all alike) and
medians with their spread are reported.

Usage (from the repository root, after `swift build -c release`):
    /path/to/venv-reference/bin/python tools/bench/bench_serving.py [--requests 96] [--threads 2] [--rounds 3] [--write]
"""

import argparse
import http.client
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIRDER = ROOT / ".build" / "release" / "birder"
PHOTO = ROOT / "Tests/Fixtures/vision/images/rocket.jpg"  # 640×427
from benchmarks_md import cpu_name, markers, write_section

BEGIN, END = markers("serving")
CLIENTS = [1, 8, 32]


class RSSSampler(threading.Thread):
    """Peak resident memory of a process (and its children, for the peer's workers), sampled."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stopped = pid, 0, threading.Event()

    def rss(self) -> int:
        pids = [self.pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(self.pid)], capture_output=True,
                                                            text=True).stdout.split()]
        total = 0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/status") as status:
                    total += next(int(l.split()[1]) for l in status if l.startswith("VmRSS:")) * 1024
            except (OSError, StopIteration):
                pass
        return total

    def run(self) -> None:
        while not self.stopped.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.05)


def load(port: int, path: str, body: bytes, clients: int, requests: int, time_limit: float) -> dict:
    """`requests` POSTs from `clients` keep-alive connections; latencies, statuses, throughput."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(requests))
    deadline = time.perf_counter() + time_limit

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while time.perf_counter() < deadline:
            with lock:
                if next(counter, None) is None:
                    break
            start = time.perf_counter()
            try:
                connection.request("POST", path, body=body, headers={"Content-Type": "image/jpeg"})
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = 0
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            with lock:
                latencies.append(time.perf_counter() - start)
                statuses[status] = statuses.get(status, 0) + 1
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    latencies.sort()
    ok = statuses.get(200, 0)
    return {
        "clients": clients, "ok": ok, "errors_5xx": sum(n for s, n in statuses.items() if s >= 500 or s == 0),
        "other": {s: n for s, n in statuses.items() if s != 200},
        "images_per_second": ok / elapsed,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else float("nan"),
    }


def wait_ready(port: int, process: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit(f"server exited with {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/v2/health/ready")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("server never became ready")


def serve_levels(command: list[str], port_of, path: str, body: bytes, args) -> tuple[list[dict], int]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    port = port_of(process)
    wait_ready(port, process)
    sampler = RSSSampler(process.pid)
    sampler.start()
    load(port, path, body, 2, 8, 60)  # warm-up
    levels = [load(port, path, body, clients, args.requests, args.time_limit) for clients in CLIENTS]
    sampler.stopped.set()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
    return levels, sampler.peak


def spread(values: list[float], digits: int = 2) -> str:
    """Median, with the lowest and highest round when there are several."""
    median = f"{statistics.median(values):.{digits}f}"
    return median if len(values) < 2 else f"{median} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=96, help="requests per client level")
    parser.add_argument("--time-limit", type=float, default=120, help="seconds per client level at most")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of predict, birder serve and the peer, interleaved (medians are reported)")
    parser.add_argument("--peer-port", type=int, default=18090)
    parser.add_argument("--birder", type=Path, default=BIRDER, help="the birder binary (default: the release build)")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if not args.birder.exists():
        sys.exit(f"{args.birder} not found: run `swift build -c release` first")
    birder_binary = str(args.birder)

    from birder.common import fs_ops
    from birder.conf import settings
    from birder.model_registry import registry
    from birder.net.base import get_signature

    body = PHOTO.read_bytes()
    load_before = os.getloadavg()[0]
    predict_rates: list[float] = []
    # Per server, per round: the levels and the peak RSS.
    results: dict[str, list[tuple[list[dict], int]]] = {"birder": [], "peer": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        settings.MODELS_DIR = tmp
        net = registry.net_factory("rdnet_t", 10, 3, size=(224, 224))
        fs_ops.checkpoint_model("rdnet_t_bench", None, net, get_signature((1, 3, 224, 224), 10),
                                {str(i): i for i in range(10)}, {"mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25)},
                                None, None, None, None)
        checkpoint = fs_ops.model_path("rdnet_t_bench")
        model_bytes = Path(checkpoint).stat().st_size
        photos = tmp / "photos"
        photos.mkdir()
        for i in range(args.requests):
            shutil.copy(PHOTO, photos / f"{i:05d}.jpg")
        threads = ["--threads", str(args.threads)]

        def birder_port(process: subprocess.Popen) -> int:
            for line in process.stderr:
                match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
                if match:
                    # Keep draining stderr so the server never blocks on a full pipe.
                    threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
                    return int(match.group(1))
            sys.exit("birder serve did not report its port")

        def peer_port(process: subprocess.Popen) -> int:
            threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
            return args.peer_port

        # Rounds interleave the three so that a change in the machine's load (other builds) falls
        # on all of them alike; each round's serving rates are compared with that round's predict.
        for round_number in range(args.rounds):
            start = time.perf_counter()
            subprocess.run([birder_binary, "predict", str(photos), "--model", str(checkpoint), "--network", "rdnet_t",
                            "--batch-size", "8", "--output", str(tmp / f"predictions-{round_number}.csv"), *threads],
                           check=True, capture_output=True)
            predict_rates.append(args.requests / (time.perf_counter() - start))
            results["birder"].append(serve_levels(
                [birder_binary, "serve", "--model", str(checkpoint), "--network", "rdnet_t", "--port", "0",
                 "--max-batch-size", "8", "--max-queue-delay-ms", "5", *threads],
                birder_port, "/v2/models/rdnet_t_bench/classify", body, args))
            results["peer"].append(serve_levels(
                [sys.executable, str(ROOT / "tools/bench/serving_peer.py"), str(checkpoint), "--network", "rdnet_t",
                 "--port", str(args.peer_port), "--max-batch-size", "8", "--max-queue-delay-ms", "5", *threads],
                peer_port, "/v2/models/rdnet_t_bench/classify", body, args))
            print(f"round {round_number + 1}: predict {predict_rates[-1]:.2f} img/s; birder serve "
                  + " / ".join(f"{l['images_per_second']:.2f}" for l in results["birder"][-1][0]) + "; peer "
                  + " / ".join(f"{l['images_per_second']:.2f}" for l in results["peer"][-1][0]), file=sys.stderr)

    import torch
    load_after = os.getloadavg()[0]
    cpu = cpu_name()
    rows = []
    for name, key in [("`birder serve`", "birder"), ("FastAPI + Birder (PyTorch)", "peer")]:
        rounds = results[key]
        peak = max(rss for _, rss in rounds)
        for index, clients in enumerate(CLIENTS):
            levels = [levels[index] for levels, _ in rounds]
            rates = [level["images_per_second"] for level in levels]
            ratios = [level["images_per_second"] / predict * 100 for level, predict in zip(levels, predict_rates)]
            errors = sum(level["errors_5xx"] for level in levels)
            rows.append(f"| {name} | {clients} | {spread(rates)} | {spread(ratios, 0)} % | "
                        f"{statistics.median(l['p50_ms'] for l in levels):.0f} | "
                        f"{statistics.median(l['p99_ms'] for l in levels):.0f} | {errors} | {peak / 2**20:.0f} |")
    table = "\n".join([
        BEGIN,
        f"Measured {time.strftime('%Y-%m-%d')} on {cpu}, {os.cpu_count()} cores, {args.threads} threads, rdnet_t "
        f"(224×224, checkpoint {model_bytes / 2**20:.0f} MiB), batches of up to 8 waiting at most 5 ms; "
        f"{args.requests} POSTs of a 640×427 JPEG per client level over keep-alive loopback connections "
        f"(Python client threads on the same machine). {args.rounds} rounds, each running `birder predict` on "
        f"{args.requests} copies of the same photo, then `birder serve` at 1, 8 and 32 clients, then the peer: "
        f"medians over the rounds (lowest–highest in brackets); \"of predict\" compares each round with that "
        f"round's `birder predict`, **{spread(predict_rates)} images/s** (wall time of the command, model "
        f"loading included). Peer: torch {torch.__version__}, same batching policy. p50/p99: medians of the "
        f"rounds' percentiles; 5xx: all rounds together; peak RSS over all levels and rounds. "
        f"1-minute load average {load_before:.1f} before the run, {load_after:.1f} after.",
        "",
        "| server | clients | images/s | of predict | p50 ms | p99 ms | 5xx | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "Reproduce: `swift build -c release && python tools/bench/bench_serving.py "
        f"--requests {args.requests} --threads {args.threads} --rounds {args.rounds} --write`",
        END,
    ])
    print(table)
    if args.write:
        write_section("serving", "Serving: `birder serve` under load", table)


if __name__ == "__main__":
    main()
