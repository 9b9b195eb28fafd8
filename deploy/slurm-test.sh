#!/bin/bash
# End-to-end test of deploy/slurm.sbatch on a real one-node Slurm cluster started on this machine
# (as root): munged, slurmctld and slurmd with deploy/slurm-localhost.conf (this host, 2 CPUs,
# state and spool in a temporary folder, non-default ports). It runs a small sweep unsharded, then
# as a 3-task array through sbatch, cancels one array task in the middle of a cell, resubmits it,
# and checks that the sweep the array wrote holds the unsharded sweep's results bit for bit, with
# no cell trained to its end twice. It stops the daemons it started by their pid files.
#
#   sudo bash deploy/slurm-test.sh      # installs slurm-wlm and munge with apt-get when missing
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

log() { echo "=== slurm test: $*"; }
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
	log "installing slurm-wlm and munge"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

T=$(mktemp -d /tmp/clgraph-slurm.XXXXXX)
chmod 755 "$T"
host=$(hostname -s)
pids=()
cleanup() {
	for f in "$T/slurmd.pid" "$T/slurmctld.pid" "$T/munged.pid"; do
		if [ -s "$f" ]; then kill "$(cat "$f")" 2>/dev/null || true; fi
	done
	sleep 1
}
trap cleanup EXIT
# Temporary folders of earlier runs of this test (their daemons were stopped).
find /tmp -maxdepth 1 -name 'clgraph-slurm.*' -not -path "$T" -mmin +1 -exec rm -rf {} + 2>/dev/null || true

log "munge"
mkdir -p "$T/munge"
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$T/munge/munge.key"
munged --force --key-file="$T/munge/munge.key" --socket="$T/munge/munge.socket" \
	--pid-file="$T/munged.pid" --log-file="$T/munged.log" --seed-file="$T/munge/seed"
for _ in $(seq 50); do [ -S "$T/munge/munge.socket" ] && break; sleep 0.1; done

log "slurmctld and slurmd for $host"
mkdir -p "$T/state" "$T/spool"
sed -e "s|@HOST@|$host|g" -e "s|@DIR@|$T|g" deploy/slurm-localhost.conf >"$T/slurm.conf"
export SLURM_CONF="$T/slurm.conf"
slurmctld -f "$T/slurm.conf"
slurmd -f "$T/slurm.conf"
for _ in $(seq 100); do
	state=$(sinfo -h -N -o %t 2>/dev/null | head -1 || true)
	[ "$state" = idle ] && break
	sleep 0.2
done
[ "$state" = idle ] || { echo "the node did not come up (state: ${state:-none})"; cat "$T"/*.log; exit 1; }

log "build clgraph and the grid"
go build -o "$T/clgraph" ./cmd/clgraph
cat >"$T/grid.yaml" <<'EOF'
# 6 cells of a few seconds each: long enough to cancel one in the middle.
name: slurm-test
description: naive and ewc on split MNIST class-IL, three seeds
streams: [split-mnist]
scenarios: [class]
strategies:
  naive: {}
  ewc: {}
seeds: [1, 2, 3]
protocol: quick
overrides:
  iterations: 400
  hidden: [64]
  train_limit: 2000
  test_limit: 500
  checkpoint_every: 50
EOF
"$T/clgraph" sweep "$T/grid.yaml" --out "$T/ref" --workers 1 --log-level warn >/dev/null

log "sbatch --array=0-2"
sub() {
	sbatch --parsable --array="$1" --cpus-per-task=1 --mem=1G --time=10 --chdir="$repo" \
		--output="$T/out-%A_%a.log" \
		--export=ALL,FILE="$T/grid.yaml",OUT="$T/sl",CLGRAPH="$T/clgraph",SLURM_CONF="$T/slurm.conf",SHARDS=3 \
		deploy/slurm.sbatch
}
job=$(sub 0-2)
# Cancel array task 1 in the middle of its first cell: once a cell it runs (its cell.log names
# shard 1/3) has written its first checkpoint (every 50 of its 2000 steps; the run also
# checkpoints on the signal). Waiting for that, not for a fixed time, keeps the test right on a
# loaded machine, where loading MNIST alone can take seconds.
midcell=""
for _ in $(seq 1200); do
	for lg in $(grep -l '"shard":"1/3"' "$T"/sl/*/*/*/cell.log 2>/dev/null); do
		if [ -e "$(dirname "$lg")/checkpoint.ckpt" ]; then midcell=$(dirname "$lg"); break 2; fi
	done
	sleep 0.1
done
[ -n "$midcell" ] || { echo "array task 1 never reached the middle of a cell in 120 s"; squeue; cat "$T"/*.log; exit 1; }
scancel "${job}_1"
log "cancelled ${job}_1"
for _ in $(seq 600); do
	[ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
	sleep 0.2
done
ck=$(find "$T/sl" -name checkpoint.ckpt | head -1)
[ -n "$ck" ] || { echo "no checkpoint left by the cancelled task: it was not cancelled mid-cell"; cat "$T/out-${job}_1.log"; exit 1; }
log "it left $ck"
job2=$(sub 1)
log "resubmitted task 1 as $job2"
for _ in $(seq 900); do
	[ -z "$(squeue -h -j "$job2" 2>/dev/null)" ] && break
	sleep 0.2
done

log "compare with the unsharded sweep"
"$T/clgraph" merge "$T/sl" >/dev/null
python3 - "$T" <<'EOF'
import glob, json, os, sys
T = sys.argv[1]
ref = sorted(glob.glob(f"{T}/ref/*/*/seed-*/result.json"))
assert len(ref) == 6, f"unsharded sweep: {len(ref)} results"
for r in ref:
    s = r.replace(f"{T}/ref/", f"{T}/sl/")
    assert os.path.exists(s), f"the array wrote no {s}"
    a, b = json.load(open(r)), json.load(open(s))
    assert a["status"] == b["status"] == "ok", (r, a["status"], b["status"])
    assert a["r"] == b["r"] and a["b"] == b["b"], f"{s}: matrices differ from the unsharded sweep"
done = {}
for f in glob.glob(f"{T}/out-*.log"):
    for line in open(f):
        if '"msg":"cell done"' in line:
            c = json.loads(line)["cell"]
            done[c] = done.get(c, 0) + 1
twice = [c for c, n in done.items() if n > 1]
resumed = sum(open(f).read().count("resumes from its checkpoint") for f in glob.glob(f"{T}/out-*.log"))
assert resumed >= 1, "the resubmitted task did not resume the cancelled cell from its checkpoint"
assert len(done) == 6 and not twice, f"cells done: {done}"
print(f"slurm test OK: 6 cells, each done once, the cancelled cell resumed from its checkpoint, results bit-identical to the unsharded sweep")
EOF
