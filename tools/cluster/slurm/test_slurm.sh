#!/bin/bash
# End-to-end test of the Slurm recipe (run by .ci/run, as root): installs Slurm from Debian if
# needed, starts a single-node cluster on this machine (munge, slurmctld, slurmd; no cgroups),
# submits an 8-shard array over photos made from the test fixtures with the fixture model, kills
# one shard mid-run, resubmits (only that shard computes again, continuing its journal), merges,
# and checks that the merged file equals a single-process run, byte for byte.
#
#   tools/cluster/slurm/test_slurm.sh [path/to/birder]
set -euo pipefail
repo=$(cd -- "$(dirname -- "$0")/../../.." && pwd)
birder=$(realpath -- "${1:-$repo/.build/debug/birder}")
here="$repo/tools/cluster/slurm"
model="$repo/Tests/Fixtures/cli/models/rdnet_t_tiny-test.pt"
shards=8 images=160 killed=3

say() { echo "slurm test: $*"; }
fail() { echo "slurm test: FAILED: $*" >&2; exit 1; }

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    say "installing slurmctld slurmd munge slurm-client from Debian"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd munge slurm-client >/dev/null
fi

work=$(mktemp -d /tmp/birder-slurm.XXXXXX)
export SLURM_CONF="$work/slurm.conf"
started=()
cleanup() {
    scancel --user=root >/dev/null 2>&1 || true
    for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${started[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "${KEEP_SLURM_TEST:-0}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Munge (Slurm's authentication): Debian's package makes the key; the daemon runs as munge.
mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
[ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
chown -R munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
chmod 0700 /etc/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- munged --force
    sleep 1
fi
munge -n | unmunge >/dev/null || fail "munged does not answer"

node=$(hostname -s)
cpus=$(nproc)
# Ports below the kernel's ephemeral range (32768 and up on Linux), so that no short-lived
# connection of the tests run before this one can hold them (46818 once was, and slurmd could not
# bind); a pair something already listens on is skipped.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ctld_port=26817
while listening "$ctld_port" || listening "$((ctld_port + 1))"; do
    ctld_port=$((ctld_port + 2))
    [ "$ctld_port" -lt 26900 ] || fail "no free pair of ports in 26817-26900 for slurmctld and slurmd"
done
mkdir -p "$work/state" "$work/spool" "$work/run"
cat > "$SLURM_CONF" <<CONF
ClusterName=birdertest
SlurmctldHost=$node
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/run/slurmctld.pid
SlurmdPidFile=$work/run/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
SlurmctldPort=$ctld_port
SlurmdPort=$((ctld_port + 1))
ReturnToService=2
MpiDefault=none
MinJobAge=600
NodeName=$node CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -D -f "$SLURM_CONF" >"$work/slurmctld.out" 2>&1 & started+=($!)
slurmd -D -f "$SLURM_CONF" >"$work/slurmd.out" 2>&1 & started+=($!)
for _ in $(seq 60); do
    state=$(sinfo -h -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 1
done
[ "$state" = idle ] || { tail -n 20 "$work"/slurm*.log >&2 || true; fail "the node did not come up (state '$state')"; }
say "cluster up on $node ($cpus CPUs)"

# The collection: symbolic links to the fixture photos, listed once.
cd "$work"
mkdir photos
for i in $(seq -w 0 $((images - 1))); do
    if [ $((10#$i % 2)) = 0 ]; then ln -s "$repo/Tests/Fixtures/cli/photos/a_chelsea.jpg" "photos/p$i.jpg"
    else ln -s "$repo/Tests/Fixtures/cli/photos/insects/b_coffee.png" "photos/p$i.png"; fi
done
# One truncated photo, as real collections have: reported, counted, and its shard still succeeds.
rm "photos/p050.jpg" && ln -s "$repo/Tests/Fixtures/cli/photos/insects/d_truncated.jpg" "photos/p050.jpg"
"$birder" manifest photos --output manifest.tsv 2>/dev/null
status=0
"$birder" embed --files-from manifest.tsv --model "$model" --output single.npy 2>/dev/null || status=$?
[ "$status" = 1 ] || fail "the single-process run exited $status, expected 1 (one unreadable photo)"

job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1; }
wait_gone() {  # until no job of the given ids is pending or running
    for _ in $(seq 600); do
        [ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0
        sleep 0.5
    done
    fail "jobs $1 still queued after 300 s: $(squeue -h -j "$1")"
}

export BIRDER="$birder" EXTRA="--batch-size 1"
read -r array merge < <("$here/submit.sh" embed manifest.tsv "$model" out/emb.npy "$shards" 4)
say "submitted array $array and merge $merge"

# Kill one shard with SIGKILL once its journal records some images, as a node failure would.
journal="out/emb.shard-000$killed-of-0008.npy.journal"
for _ in $(seq 3000); do
    done_now=$(sed -n 's/.*"done" : \([0-9]*\).*/\1/p' "$journal" 2>/dev/null || true)
    [ -n "$done_now" ] && [ "$done_now" -ge 3 ] && break
    [ -e "out/emb.shard-000$killed-of-0008.npy.done" ] && fail "shard $killed finished before it could be killed"
    sleep 0.02
done
scancel --signal=KILL "${array}_$killed"
say "killed shard $killed after $done_now images"
wait_gone "$array"
wait_gone "$merge"
[ ! -e out/emb.npy ] || fail "the merge ran although a shard failed"
[ -e "$journal" ] || fail "the killed shard left no journal"
finished=$(ls out/*.done | wc -l)
[ "$finished" = $((shards - 1)) ] || fail "$finished shards finished, expected $((shards - 1))"

# Resubmit the same command: the finished shards exit at once, the killed one continues.
read -r array2 merge2 < <("$here/submit.sh" embed manifest.tsv "$model" out/emb.npy "$shards" 4)
say "resubmitted: array $array2, merge $merge2"
wait_gone "$array2"
wait_gone "$merge2"
[ "$(job_state "$merge2")" = COMPLETED ] || { cat logs/birder-merge-"$merge2".out >&2 || true; fail "merge job $merge2: $(job_state "$merge2")"; }
skipped=$(grep -l "already done" logs/birder-"$array2"_*.out | wc -l)
[ "$skipped" = $((shards - 1)) ] || fail "$skipped shards skipped on resubmission, expected $((shards - 1))"
grep -q "resumed after" logs/birder-"$array2"_"$killed".out || fail "shard $killed did not resume: $(cat logs/birder-"$array2"_"$killed".out)"
cmp out/emb.npy single.npy || fail "merged embeddings differ from the single-process run"
cmp out/emb.npy.samples.txt single.npy.samples.txt || fail "merged sample lists differ"
grep -q "photos/p050.jpg: " logs/birder-"$array"_2.out || fail "shard 2 did not report the truncated photo: $(cat logs/birder-"$array"_2.out)"
say "PASSED: $shards shards, shard $killed killed after $done_now images and resumed; merged output equals one process ($(wc -l < single.npy.samples.txt) rows, 1 unreadable photo reported)"
