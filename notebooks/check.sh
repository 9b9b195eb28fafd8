#!/usr/bin/env bash
# Executes notebooks/analysis.ipynb and notebooks/compare.ipynb headless
# against a clgraph run folder and exits non-zero if either fails.
#
#   notebooks/check.sh RUN_DIR [RUN_DIR_B]
#
# compare.ipynb compares RUN_DIR with RUN_DIR_B (default: RUN_DIR itself).
# The executed notebooks are written to $CLGRAPH_NB_OUT (default: a
# temporary folder, removed on success). Uses Debian's Python
# (/usr/bin/python3, or $PYTHON) with python3-nbconvert, python3-pandas,
# python3-matplotlib and python3-ipykernel:
#
#   apt-get install -y python3-nbconvert python3-pandas python3-matplotlib python3-ipykernel
#
# python3-scipy is optional (clgraph_results.py computes Student t itself without it).
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
	echo "usage: $0 RUN_DIR [RUN_DIR_B]" >&2
	exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
run_a=$(cd "$1" && pwd)
run_b=$(cd "${2:-$1}" && pwd)
py=${PYTHON:-/usr/bin/python3}
if ! "$py" -c 'import nbconvert, ipykernel, pandas, matplotlib' 2>/dev/null; then
	echo "$0: $py lacks nbconvert, ipykernel, pandas or matplotlib;" \
		"apt-get install -y python3-nbconvert python3-pandas python3-matplotlib python3-ipykernel" >&2
	exit 1
fi

out=${CLGRAPH_NB_OUT:-}
cleanup=
if [[ -z $out ]]; then
	out=$(mktemp -d)
	cleanup=$out
fi
mkdir -p "$out"

# Run the kernel with the same interpreter (not whatever python3 is first on
# PATH, e.g. pyenv's), headless, without touching the user's Jupyter config.
export PATH="$(dirname "$py"):$PATH"
export MPLBACKEND=module://matplotlib_inline.backend_inline
export JUPYTER_PLATFORM_DIRS=1
export JUPYTER_CONFIG_DIR="$out/.jupyter" JUPYTER_DATA_DIR="$out/.jupyter-data" JUPYTER_RUNTIME_DIR="$out/.jupyter-run"
export IPYTHONDIR="$out/.ipython" MPLCONFIGDIR="$out/.matplotlib"
export PYTHONDONTWRITEBYTECODE=1 PYDEVD_DISABLE_FILE_VALIDATION=1

execute() { # notebook.ipynb
	local nb=$1
	echo "executing $nb ..."
	"$py" -m nbconvert --to notebook --execute \
		--ExecutePreprocessor.timeout=300 --ExecutePreprocessor.kernel_name=python3 \
		--output-dir "$out" --output "${nb%.ipynb}.executed.ipynb" "$here/$nb"
}

status=0
CLGRAPH_RUN="$run_a" execute analysis.ipynb || status=1
CLGRAPH_RUN_A="$run_a" CLGRAPH_RUN_B="$run_b" execute compare.ipynb || status=1

if [[ $status -ne 0 ]]; then
	echo "notebook check FAILED (executed notebooks in $out)" >&2
	exit 1
fi
echo "notebook check passed: analysis.ipynb and compare.ipynb executed against $run_a${2:+ and $run_b}"
[[ -n $cleanup ]] && rm -rf "$cleanup"
exit 0
