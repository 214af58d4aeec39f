#!/usr/bin/env bash
# The GPU check: run it whenever a GPU is available (estimated at about 6 minutes on one NVIDIA H200,
# not yet measured; it must stay under 8), then read OUT/summary.txt and OUT/phases.txt. In order:
#   1. the tests that need CUDA (pytest -k "cuda or on_the_gpu": they are skipped on a CPU);
#   2. the speed benchmarks: step_time.py (fast and official recipes), epoch_time.py per method;
#   3. a synthetic CREMA-D release (tests/fixtures) of PER_CLASS clips per emotion, prepared by
#      data_prep/cremad.py at the real shapes (224x224 frames, 257x299 spectrograms);
#   4. `python -m dglnb train` of vanilla and of DGL in the full profile on it, through the whole
#      loop (arrays in GPU memory, batched augmentation, evaluation every epoch, checkpoints) for
#      EPOCHS epochs; gpu_check_summary.py checks each run and extrapolates 100 epochs of CREMA-D.
# Each phase's output goes to OUT; a failed phase is noted and the others still run; the exit status
# is 1 if any failed. SIZES=tiny DEVICE=cpu runs the same commands at tiny sizes on a CPU (what
# tests/test_benchmarks.py does, so that the script keeps working between GPU runs).
#
#   bash benchmarks/gpu_check.sh                        # on a GPU machine, after make .venv
#   SIZES=tiny DEVICE=cpu OUT=/tmp/check bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DEVICE=${DEVICE:-cuda}
SIZES=${SIZES:-gpu}
OUT=${OUT:-benchmarks/results/gpu_check}
EPOCHS=${EPOCHS:-3}
if [ "$SIZES" = tiny ]; then
  PER_CLASS=3 FRAME_SIDE=32 PROFILE=smoke WORKERS=1  # 14 training clips: batches of 8 and 6
  STEP_ARGS=(--shapes small --steps 2 --warmup 1) EPOCH_ARGS=(--clips 2 --batch 2)
else
  PER_CLASS=${PER_CLASS:-600} FRAME_SIDE=224 PROFILE=full WORKERS=$(nproc)
  STEP_ARGS=(--recipe both) EPOCH_ARGS=()
fi

rm -rf "$OUT" && mkdir -p "$OUT"
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
failed=()

# phase NAME FILE COMMAND...: run COMMAND with its output in FILE, timed; a failure is noted, not fatal.
phase() {
  local name=$1 file=$2 start=$SECONDS status=ok
  shift 2
  "$@" > "$file" 2>&1 || { status=FAILED; failed+=("$name"); }
  echo "$name: $status in $((SECONDS - start)) s (${file#"$OUT"/})" | tee -a "$OUT/phases.txt"
}

phase "CUDA tests" "$OUT/cuda_tests.txt" \
  env OMP_NUM_THREADS=1 "$PY" -m pytest -q -rs -p no:xdist tests -k "cuda or on_the_gpu"
phase "step time" "$OUT/step_time.txt" \
  "$PY" benchmarks/step_time.py --device "$DEVICE" "${STEP_ARGS[@]}"
for method in vanilla dgl; do
  phase "epoch time, $method" "$OUT/epoch_time_$method.txt" \
    "$PY" benchmarks/epoch_time.py --device "$DEVICE" --method "$method" "${EPOCH_ARGS[@]}"
done
release="import sys; sys.path.insert(0, 'tests'); from pathlib import Path
from fixtures.cremad import make_cremad
print(len(make_cremad(Path(sys.argv[1]), per_class=int(sys.argv[2]))), 'clips')"
phase "synthetic CREMA-D release" "$OUT/release.txt" "$PY" -c "$release" "$data/raw" "$PER_CLASS"
phase "data_prep/cremad.py" "$OUT/prep.txt" "$PY" data_prep/cremad.py --raw "$data/raw" \
  --out "$data/cremad" --workers "$WORKERS" --frame-side "$FRAME_SIDE"
for method in vanilla dgl; do
  phase "dglnb train, $method" "$OUT/train_$method.txt" \
    "$PY" -m dglnb train --dataset cremad --method "$method" --profile "$PROFILE" \
    --data-root "$data/cremad" --device "$DEVICE" --epochs "$EPOCHS" --data-path memory --augment \
    --no-progress --out "$OUT/train_$method"
done
phase "summary" "$OUT/summary.txt" "$PY" benchmarks/gpu_check_summary.py --data "$data/cremad" \
  "$OUT/train_vanilla" "$OUT/train_dgl"
rm -f "$OUT"/train_*/last.pt "$OUT"/train_*/best.pt  # checked by the summary; too large to keep
cat "$OUT/summary.txt"
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]} (see $OUT)" >&2
  exit 1
fi
