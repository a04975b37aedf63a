#!/bin/bash
# Submits a sharded Birder run to Slurm: an array of SHARDS tasks (at most PARALLEL at once), then
# a merge job that starts when every task succeeded. Prints the two job ids.
#
#   tools/cluster/slurm/submit.sh embed manifest.tsv rdnet_t_ibot-bioscan5m out/emb.npy 64 16 [-- sbatch options…]
#
# Environment: BIRDER (the executable, default birder on PATH), EXTRA (more birder options, e.g.
# "--head species"), MERGED (the merged file, default the output). Resubmitting the same command
# after a failure reruns only the shards that are not done (the others exit at once).
set -euo pipefail
if [ $# -lt 6 ]; then
    sed -n '2,10p' "$0" >&2
    exit 2
fi
command=$1 manifest=$2 model=$3 output=$4 shards=$5 parallel=$6
shift 6
[ "${1:-}" = "--" ] && shift
here=$(cd -- "$(dirname -- "$0")" && pwd)
if [ "$shards" -gt 1001 ]; then
    echo "warning: $shards shards exceed Slurm's default MaxArraySize (1001); raise it in slurm.conf or use fewer, larger shards" >&2
fi
mkdir -p -- "$(dirname -- "$output")" logs
export COMMAND="$command" MANIFEST="$manifest" MODEL="$model" OUTPUT="$output" SHARDS="$shards"
array=$(sbatch --parsable --array="0-$((shards - 1))%$parallel" --output="logs/birder-%A_%a.out" "$@" "$here/birder-array.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes --output="logs/birder-merge-%j.out" "$@" "$here/birder-merge.sbatch")
merge=${merge%%;*}
echo "$array $merge"
