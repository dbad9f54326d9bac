#!/usr/bin/env bash
# GPU figures for benchmarks/RESULTS.md (issue #12): the suite's CUDA tests, speed.py, scaling.py and
# collation.py with --device cuda at reduced size, and the quick benchmark (configs/quick.yaml) with
# protocol.device cuda and two workers sharing the GPU, in under 8 minutes.
#
#   benchmarks/gpu.sh --prepare   on a machine with the data: pack what the steps read into .gpu_data/
#                                 (ignored by git, about 15 MB: MUTAG, NCI1, PROTEINS, ENZYMES, IMDB-BINARY,
#                                 IMDB-MULTI, REDDIT-BINARY and the split files) from $AWGNN_DATA or ../shared/data
#   benchmarks/gpu.sh             on the GPU machine (carry .gpu_data): every step on CUDA
#   benchmarks/gpu.sh --cpu       the same steps on the CPU at tiny size, to check the script anywhere
#
# Needs python3 with torch, torch_geometric, numpy, scipy, matplotlib, pyyaml, tqdm, networkx and pytest; awgnn
# is used from this checkout (PYTHONPATH), nothing is installed and no network is used. Outputs (8 files, flat)
# go to $OUT when set, else benchmarks/output/gpu/ (benchmarks/output/gpu_cpu_dryrun/ with --cpu): gpu.log
# (everything), summary.md (machine, per-step exit code and time), speed.md, speed.json, scaling.md,
# scaling.json, collation.md and quick_report.md. Every step runs under its own time limit, cut further to
# what is left of the budget (GPU_BUDGET_S, default 450 s), so a stuck step cannot eat the others' time;
# a failed step is reported and the next one runs; the exit code is 1 if any step failed.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
PACK=.gpu_data/data.tar.gz
DATASETS=(MUTAG NCI1 PROTEINS ENZYMES IMDB-BINARY IMDB-MULTI REDDIT-BINARY)

usage() {
    echo "usage: benchmarks/gpu.sh [--prepare | --cpu]" >&2
    exit 2
}

prepare() {
    local source=${AWGNN_DATA:-$REPO/../shared/data}
    local members=(splits)
    for name in "${DATASETS[@]}"; do
        members+=("TUDataset/$name/raw")
    done
    for member in "${members[@]}"; do
        [[ -d $source/$member ]] || { echo "error: $source/$member not found (set AWGNN_DATA)" >&2; exit 2; }
    done
    mkdir -p "$(dirname "$PACK")"
    tar -czf "$PACK" -C "$source" "${members[@]}"
    echo "packed ${members[*]} from $source into $PACK ($(du -h "$PACK" | cut -f1)); carry .gpu_data"
}

MODE=cuda
case ${1:-} in
    --prepare) prepare; exit 0 ;;
    --cpu) MODE=cpu ;;
    "") ;;
    *) usage ;;
esac
[[ $# -le 1 ]] || usage
[[ -f $PACK ]] || { echo "error: $PACK not found: run benchmarks/gpu.sh --prepare first" >&2; exit 2; }

PY=${PYTHON:-python3}
if [[ $MODE == cuda ]]; then
    OUT=${OUT:-$REPO/benchmarks/output/gpu}
else
    OUT=${OUT:-$REPO/benchmarks/output/gpu_cpu_dryrun}
fi
BUDGET=${GPU_BUDGET_S:-450}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/awgnn_gpu.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT" "$WORK/data" "$WORK/raw"
LOG=$OUT/gpu.log
SUMMARY=$OUT/summary.md
exec > >(tee "$LOG") 2>&1

export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1
export AWGNN_DATA=$WORK/data AWGNN_TEST_DATA=$WORK/data
export XDG_CACHE_HOME=$WORK/cache  # processed datasets, shared by the steps
export MPLBACKEND=Agg
tar -xzf "$PACK" -C "$WORK/data"

START=$SECONDS
FAILED=()

# step NAME CAP FILE COMMAND...: run COMMAND under min(CAP, budget left) seconds; its stdout also goes to FILE
# unless FILE is "-". The whole process group is signalled on a timeout, worker processes included.
step() {
    local name=$1 cap=$2 file=$3
    shift 3
    local left=$((BUDGET - (SECONDS - START)))
    local limit=$((cap < left ? cap : left))
    if ((limit < 20)); then
        echo "== $name: skipped, ${left}s of the budget left"
        echo "| $name | skipped | 0 | $limit |" >>"$SUMMARY"
        FAILED+=("$name")
        return 0
    fi
    echo "== $name (limit ${limit}s): $*"
    local began=$SECONDS rc=0
    if [[ $file == - ]]; then
        timeout -k 10 "$limit" "$@" || rc=$?
    else
        timeout -k 10 "$limit" "$@" | tee "$file" || rc=$?
    fi
    local status=$rc
    ((rc == 124 || rc == 137)) && status="$rc (timed out)"
    echo "== $name: exit $status after $((SECONDS - began))s"
    echo "| $name | $status | $((SECONDS - began)) | $limit |" >>"$SUMMARY"
    ((rc == 0)) || FAILED+=("$name")
}

{
    echo "# GPU figures ($MODE mode)"
    echo
    echo "Machine: $(nvidia-smi -L 2>/dev/null | head -n 1 || true)"
    echo "$("$PY" -c 'import platform, torch, torch_geometric; print(f"torch {torch.__version__} (CUDA {torch.version.cuda}, available: {torch.cuda.is_available()}), torch_geometric {torch_geometric.__version__}, Python {platform.python_version()}")')"
    echo "Commit: $(git rev-parse --short HEAD 2>/dev/null || echo 'unknown (no git here)'); started $(date -u '+%Y-%m-%d %H:%M') UTC; budget ${BUDGET}s"
    echo
    echo "| step | exit | seconds | limit |"
    echo "|---|---|---|---|"
} >"$SUMMARY"
cat "$SUMMARY"

if [[ $MODE == cuda ]]; then
    "$PY" -c 'import torch; assert torch.cuda.is_available(), "no CUDA device: use --cpu for a dry run"'
    DEVICE=cuda
    SPEED=(--rounds 2 --batch-sizes 32 128 --resize-repeats 20 --epochs 1 --skip-compile)
    SCALING=(--steps 10 --rounds 2 --workers 1 2 --harness-epochs 10)
    COLLATION=(--epochs 2)
    QUICK=()
else
    DEVICE=cpu
    SPEED=(--smoke --skip-compile)
    SCALING=(--smoke --workers 1 2)
    COLLATION=(--smoke)
    QUICK=(--tiny)
fi

# The CUDA tests: harness on the GPU with two workers (both loaders), device placement, adaptive training with
# resizing on the device, InMemoryLoader on the device, the layers against PyG on the device.
step tests 100 - "$PY" -m pytest -q -rs -p no:cacheprovider tests/test_cuda.py tests/test_nn_conv.py \
    tests/test_batching.py -k "cuda or store_device"

step speed 120 "$OUT/speed.md" "$PY" benchmarks/speed.py --device "$DEVICE" --out "$WORK/raw" "${SPEED[@]}"
[[ -f $WORK/raw/speed.json ]] && cp "$WORK/raw/speed.json" "$OUT/"

"$PY" - "$WORK/quick.yaml" "$DEVICE" "${QUICK[@]}" <<'EOF'
import sys
import yaml
path, device, tiny = sys.argv[1], sys.argv[2], "--tiny" in sys.argv[3:]
content = yaml.safe_load(open("configs/quick.yaml"))
content["protocol"]["device"] = device
if tiny:
    content["splits"]["outer_folds"] = 2
    content["protocol"].update(max_epochs=3, patience=3, final_runs=1)
open(path, "w").write(yaml.safe_dump(content, sort_keys=False))
EOF
step quick 150 - "$PY" -m awgnn.harness.cli bench "$WORK/quick.yaml" --results "$WORK/quick" --workers 2 \
    --no-progress
[[ -f $WORK/quick/report.md ]] && cp "$WORK/quick/report.md" "$OUT/quick_report.md"

step scaling 120 "$OUT/scaling.md" "$PY" benchmarks/scaling.py --device "$DEVICE" --out "$WORK/raw" "${SCALING[@]}"
[[ -f $WORK/raw/scaling.json ]] && cp "$WORK/raw/scaling.json" "$OUT/"

step collation 45 "$OUT/collation.md" "$PY" benchmarks/collation.py --device "$DEVICE" --out "$WORK/raw" \
    "${COLLATION[@]}"

echo
echo "total $((SECONDS - START))s; outputs in $OUT: $(cd "$OUT" && ls | tr '\n' ' ')"
if ((${#FAILED[@]})); then
    echo "failed or skipped: ${FAILED[*]}"
    exit 1
fi
