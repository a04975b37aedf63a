"""Two builds of `birder` side by side, interleaved: did a change make the forward pass slower?

Usage (two release builds, e.g. one from a worktree of the old commit with --scratch-path):
    python3 tools/bench/compare_builds.py OLD_BIRDER NEW_BIRDER [--networks rdnet_t vit_b16_pn] \
        [--rounds 5] [--precision fp32]

Each round runs `birder bench --json` (batch 8, 3 timed passes, 2 threads) of every network with
each build back to back; prints the medians and the new/old ratio, with its range over the rounds.
"""

import argparse
import json
import statistics
import subprocess


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--networks", nargs="+", default=["rdnet_t", "vit_b16_pn"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--precision", default="fp32", help="passed to the new build only when not fp32")
    args = parser.parse_args()
    results = {(network, build): [] for network in args.networks for build in ("old", "new")}
    for _ in range(args.rounds):
        for network in args.networks:
            for build, path in (("old", args.old), ("new", args.new)):
                command = [path, "bench", "--network", network, "--batch-size", "8", "--iterations", "3",
                           "--threads", "2", "--json"]
                if build == "new" and args.precision != "fp32":
                    command += ["--precision", args.precision]
                line = subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
                results[(network, build)].append(json.loads(line)["images_per_second"])
    for network in args.networks:
        old, new = results[(network, "old")], results[(network, "new")]
        paired = [n / o for o, n in zip(old, new)]
        print(f"{network}: old {statistics.median(old):.2f} images/s, new {statistics.median(new):.2f}, "
              f"new/old {statistics.median(new) / statistics.median(old):.3f} (rounds {min(paired):.3f}–{max(paired):.3f})")


if __name__ == "__main__":
    main()
