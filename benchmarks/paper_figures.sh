#!/usr/bin/env bash
# Regenerate the figures and tables in docs/figures/ with the RACER protocol:
# 100 random calibration/test splits per run, target risk alpha = 0.1, delta = 0.1,
# Hoeffding-Bentkus bound, MLP router trained on each benchmark's training file.
#
#   benchmarks/paper_figures.sh [DATA_DIR]
#
# DATA_DIR contains routerdc/, routerbench/ and embeddings/ (default: ../shared/data beside
# the project, or $RACER_DATA). Runs go to $RACER_RUNS (default runs/paper); the racer
# command is $RACER (default .venv/bin/racer, else racer on PATH); $TRIALS overrides 100.
#
# Outputs:
#   docs/figures/risk_set_size.png, calls_vs_accuracy.png, report.md
#       RouterDC mmlu, cmmlu and arc_challenge (7 models), scores gap and inverse, null
#       scores "always" and "one-minus-max". Under "always" the top augmented score is 1,
#       so gap and inverse give identical sets; "one-minus-max" separates them. The
#       learned null head is left out because its sets hold all 7 models on these files.
#   docs/figures/routerbench/...
#       RouterBench arc_challenge (11 models, parsed answers and costs): alpha = 0.1 with
#       both scores, and alpha = 0.03 (gap) for contrast.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${1:-${RACER_DATA:-$ROOT/../shared/data}}"
RUNS="${RACER_RUNS:-$ROOT/runs/paper}"
TRIALS="${TRIALS:-100}"
if [[ -z "${RACER:-}" ]]; then
  if [[ -x "$ROOT/.venv/bin/racer" ]]; then RACER="$ROOT/.venv/bin/racer"; else RACER=racer; fi
fi
if [[ ! -d "$DATA/routerdc" || ! -d "$DATA/routerbench" || ! -d "$DATA/embeddings" ]]; then
  echo "error: $DATA must contain routerdc/, routerbench/ and embeddings/; pass the data folder as the first argument" >&2
  exit 2
fi

# run_one COLLECTION NAME EXTENSION OUT_NAME [racer run options...]
run_one() {
  local collection="$1" name="$2" extension="$3" out="$RUNS/$4"
  shift 4
  echo "== $collection/$name $*" >&2
  "$RACER" run \
    --train "$DATA/$collection/${name}_train.$extension" \
    --train-features "$DATA/embeddings/$collection/${name}_train.npy" \
    --eval "$DATA/$collection/${name}_test.$extension" \
    --eval-features "$DATA/embeddings/$collection/${name}_test.npy" \
    --delta 0.1 --trials "$TRIALS" --seed 0 --out "$out" "$@"
}

routerdc_runs=()
for name in mmlu cmmlu arc_challenge; do
  for null in always one-minus-max; do
    for score in gap inverse; do
      run_one routerdc "$name" json "routerdc-$name-$null-$score" --alpha 0.1 --null "$null" --score "$score"
      routerdc_runs+=("$RUNS/routerdc-$name-$null-$score")
    done
  done
done
"$RACER" report --out "$ROOT/docs/figures" "${routerdc_runs[@]}"

routerbench_runs=()
for score in gap inverse; do
  run_one routerbench arc_challenge csv "routerbench-arc_challenge-a0.1-$score" --alpha 0.1 --null always --score "$score"
  routerbench_runs+=("$RUNS/routerbench-arc_challenge-a0.1-$score")
done
run_one routerbench arc_challenge csv "routerbench-arc_challenge-a0.03-gap" --alpha 0.03 --null always --score gap
routerbench_runs+=("$RUNS/routerbench-arc_challenge-a0.03-gap")
"$RACER" report --out "$ROOT/docs/figures/routerbench" "${routerbench_runs[@]}"
