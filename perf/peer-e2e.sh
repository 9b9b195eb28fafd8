#!/usr/bin/env bash
# End-to-end wall time of clgraph run against the PyTorch peer (perf/peer/torch_run.py, one
# thread: its best setting here) on split MNIST class-IL, paper protocol (5 tasks x 2000
# iterations, MLP 784-400-400, Adam 1e-3, batch 128), seed 1, for every strategy the peer has,
# alternating peer and clgraph. Usage: perf/peer-e2e.sh [ROUNDS] [STRATEGIES]
# Needs: python3-torch, a built ./clgraph (go build -o clgraph ./cmd/clgraph) or CLGRAPH=path.
# PEER_CORETYPE=SkylakeX (or Haswell) gives the peer the OpenBLAS kernels clgraph picks by CPU
# (Debian's OpenBLAS 0.3.21 falls back to Prescott on this Xeon); unset, the peer runs as installed.
set -euo pipefail
rounds=${1:-2}
strategies=${2:-"naive ewc replay agem"}
bin=${CLGRAPH:-./clgraph}
data=$(go env GOMODCACHE)/github.com/petar/\!go\!m\!n\!i\!s\!t@v0.0.0-20150320212226-2fbe10d0fa63/data
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
printf '%-7s %-6s %10s %10s %7s\n' strategy round peer_s clgraph_s ratio
for r in $(seq 1 "$rounds"); do
	for s in $strategies; do
		t0=$(now)
		env ${PEER_CORETYPE:+OPENBLAS_CORETYPE=$PEER_CORETYPE} OMP_NUM_THREADS=1 /usr/bin/python3 perf/peer/torch_run.py --data "$data" --stream split --scenario class \
			--strategy "$s" --iters 2000 --seed 1 --threads 1 >"$tmp/peer.json"
		t1=$(now)
		"$bin" run --stream split-mnist --scenario class --protocol paper --strategies "$s" --seeds 1 \
			--out "$tmp/run-$s-$r" --progress none --log-level warn >/dev/null
		t2=$(now)
		/usr/bin/python3 -c "import sys; p=$t1-$t0; c=$t2-$t1; print('%-7s %-6s %10.1f %10.1f %7.2f' % ('$s', '$r', p, c, c/p))"
	done
done
