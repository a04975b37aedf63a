#!/usr/bin/env python3
"""Two builds of `birder` side by side: `birder bench` of each network, the binaries alternating
round by round (so both see the same machine minute), the median of the rounds per binary and the
ratio within each round. Used to check that a change does not slow the engine down.

    python3 tools/bench/bench_binaries.py OLD_BIRDER NEW_BIRDER [--rounds 7] [--iterations 5]

Writes the table to BENCHMARKS.md's `binaries` section (and prints it).
"""

import argparse
import datetime
import json
import statistics
import subprocess

from benchmarks_md import cpu_name, markers, write_section


def bench(binary: str, network: str, batch: int, iterations: int, threads: int) -> float:
    out = subprocess.run([binary, "bench", "--network", network, "--batch-size", str(batch), "--iterations",
                          str(iterations), "--threads", str(threads), "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["images_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--networks", nargs="+", default=["rdnet_t", "vit_b16_pn"])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--old-label", default="old")
    parser.add_argument("--new-label", default="new")
    args = parser.parse_args()

    rows = []
    for network in args.networks:
        old, new, ratios = [], [], []
        for round_ in range(args.rounds):
            # Alternate which binary goes first, so neither always meets a warmer or cooler machine.
            order = [("old", args.old), ("new", args.new)]
            if round_ % 2:
                order.reverse()
            speeds = {name: bench(binary, network, args.batch_size, args.iterations, args.threads)
                      for name, binary in order}
            old.append(speeds["old"])
            new.append(speeds["new"])
            ratios.append(speeds["new"] / speeds["old"])
            print(f"{network} round {round_ + 1}: old {speeds['old']:.2f}, new {speeds['new']:.2f} images/s", flush=True)
        rows.append((network, statistics.median(old), statistics.median(new), min(ratios), statistics.median(ratios),
                     max(ratios)))

    begin, end = markers("binaries")
    lines = [begin,
             f"Measured {datetime.date.today()} on {cpu_name()}, {args.threads} threads, batch {args.batch_size}, "
             f"224×224, seeded weights (`birder bench`, median of {args.iterations} passes after 2 warm-up passes); "
             f"{args.rounds} rounds, the two binaries alternating; old = {args.old_label}, new = {args.new_label}. "
             f"Reproduce: `python3 tools/bench/bench_binaries.py OLD/birder NEW/birder`.",
             "",
             "| network | old images/s (median) | new images/s (median) | new ÷ old per round: min / median / max |",
             "|---|---:|---:|---|"]
    for network, old, new, low, median, high in rows:
        lines.append(f"| {network} | {old:.2f} | {new:.2f} | {low:.3f} / {median:.3f} / {high:.3f} |")
    lines.append(end)
    table = "\n".join(lines)
    print(table)
    write_section("binaries", "Before and after a change: two builds of birder", table)


if __name__ == "__main__":
    main()
