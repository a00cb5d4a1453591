#!/usr/bin/env bash
# The CNN rows of Tables 3, 4, 7 and 8 on a lent GPU, in one call.
#
#   bash scripts/device_tables.sh --prepare    # here, before the call (PyPI)
#   bash scripts/device_tables.sh              # there: the device command
#   bash scripts/device_tables.sh --dry_run    # here: the same on CPU, :quick
#   bash scripts/merge_device_results.sh FILES_AT   # here, after the call
#
# What one call does, in order, within --budget_s (default 540 s: one
# 9-minute command; give the device call timeout_s=570):
#  1. Set-up from what travelled: the wheels and data --prepare put in
#     .device_carry/ (carry it), the image's own python3 and jax otherwise.
#     Prints python, jax, the jax pin of pyproject.toml and the devices.
#  2. Timing (--timing_s, default 60): benchmarks/train_step.py's CNN step
#     (--family=cnn: one worker per path, old and new) and dense step,
#     side by side, each under `timeout`, their lines printed as they come.
#  3. Training: each table in --tables order as up to --shards sweep jobs
#     side by side (`experiments.sweep --shard=i/n`, each with
#     XLA_PYTHON_CLIENT_PREALLOCATE=false), workdirs under --results
#     (default results/, the ledgers); only shards with pending cells start,
#     no table starts with less than --min_start_s left, and every job is
#     stopped at the budget's end (its finished cells are kept).
#  4. Copying: a background loop packs every finished cell's small files
#     (config.json, metrics.jsonl, results.json; never checkpoints) into
#     $OUT/cells-<table>.tar.gz as cells finish (experiments/device_results.py
#     says why archives: $OUT returns at most 8 files, 2 folders deep), so a
#     call cut off by its limit still returns every finished cell. $OUT also
#     gets device_tables.log (this output) and timing.log (the benchmarks').
#
# --dry_run: the same program on the CPU: the :quick configs, tiny
# benchmark sizes (--timing_s=45), 2 shards, and one cell per table,
# --only='^variant=supervised(,num_labels=100)?$' (a quick CNN cell costs
# 40-70 s of CPU on 2 cores, so the 12 quick cells would take over 5
# minutes), into a temporary --results and $OUT (or the ones given).
# tests/device_script_test.py runs it.
#
# Other flags: --tables="t1 t2", --shards=N, --only=REGEX (passed to every
# sweep job), --results=DIR, --out=DIR (else $OUT), --require_pinned_jax
# (refuse a jax outside pyproject.toml's pin), --allow_dirty (sweeps train
# from a tree with uncommitted changes; cells record '<commit>-dirty').
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
START=$SECONDS

DRY_RUN=0 PREPARE=0 REQUIRE_PINNED=0 ALLOW_DIRTY=0
TABLES="table3_mnist_cnn table4_mnist_cnn table7_fashion_mnist_cnn table8_fashion_mnist_cnn"
BUDGET_S="" TIMING_S="" SHARDS="" RESULTS="" ONLY="__unset__" MIN_START_S=""
OUT_DIR=${OUT:-}
CARRY=.device_carry
COPY_EVERY_S=5
RESERVE_S=10  # kept back at the budget's end for the last copy

for arg in "$@"; do
  case $arg in
    --dry_run) DRY_RUN=1 ;;
    --prepare) PREPARE=1 ;;
    --require_pinned_jax) REQUIRE_PINNED=1 ;;
    --allow_dirty) ALLOW_DIRTY=1 ;;
    --tables=*) TABLES=${arg#*=} ;;
    --budget_s=*) BUDGET_S=${arg#*=} ;;
    --timing_s=*) TIMING_S=${arg#*=} ;;
    --shards=*) SHARDS=${arg#*=} ;;
    --results=*) RESULTS=${arg#*=} ;;
    --only=*) ONLY=${arg#*=} ;;
    --min_start_s=*) MIN_START_S=${arg#*=} ;;
    --out=*) OUT_DIR=${arg#*=} ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "error: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done
TABLES=${TABLES//,/ }

if [[ -n ${PYTHON:-} ]]; then PY=$PYTHON
elif [[ -x .venv/bin/python ]]; then PY=.venv/bin/python
else PY=python3; fi

# ------------------------------------------------------------------ prepare
# Here, before a device is lent: what the device call must carry, in
# .device_carry/ (git-ignored through .git/info/exclude):
#   data/<name>/  the files of the tables' data sets (from ../shared/data)
#   wheels/       the packages the device image lacks (KINDS.md's list):
#                 ml-collections and tensorboardX, at this venv's versions
#   git_commit    HEAD (for a device copy without .git: $SSVAE_GIT_COMMIT)
if (( PREPARE )); then
  set -e
  mkdir -p "$CARRY/wheels" "$CARRY/data"
  exclude=$(git rev-parse --git-path info/exclude)
  mkdir -p "$(dirname "$exclude")"
  grep -qxF "/$CARRY/" "$exclude" 2>/dev/null || echo "/$CARRY/" >> "$exclude"
  # The data sets the tables' cells read, from their configs.
  want=$("$PY" -m experiments.device_results datasets --tables="$TABLES")
  for name in $want; do
    src=${DATA_SRC:-../shared/data}/$name
    case $name in
      mnist|fashion_mnist) files=("$src"/*-ubyte.gz) ;;
      dsprites) files=("$src"/*.npz) ;;  # the 1.3 MB downsampled grid
      *) echo "error: --tables=\"$TABLES\" read data set '$name', which" \
           "--prepare cannot carry (it carries mnist, fashion_mnist and" \
           "dsprites); train that table here" >&2
         exit 1 ;;
    esac
    mkdir -p "$CARRY/data/$name"
    cp -u "${files[@]}" "$CARRY/data/$name/"
    echo "data $name: $(du -sh "$CARRY/data/$name" | cut -f1) from $src"
  done
  for pkg in ml-collections tensorboardX; do
    version=$("$PY" -m pip show "$pkg" | sed -n 's/^Version: //p')
    ls "$CARRY"/wheels/* 2>/dev/null | grep -qi "${pkg//-/_}-$version" || \
      "$PY" -m pip download -q --no-deps --only-binary=:all: \
        --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
        -d "$CARRY/wheels" "$pkg==$version"
  done
  commit=$(git rev-parse --short HEAD)
  [[ -n $(git status --porcelain) ]] && commit+="-dirty" && echo \
    "warning: the tree has uncommitted changes: the device's cells would" \
    "record $commit, and sweeps refuse that without --allow_dirty. Commit" \
    "first (or prepare in a clean git worktree)."
  echo "$commit" > "$CARRY/git_commit"
  tree=$( (git ls-files -z; git ls-files -z -o --exclude-standard) \
    | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
  carry=$(du -sb "$CARRY" | cut -f1)
  echo "travels: tree $((tree / 1048576)) MiB + $CARRY $((carry / 1048576))" \
    "MiB = $(((tree + carry) / 1048576)) MiB of the device call's 64 MiB"
  (( tree + carry > 64 * 1048576 )) && echo "error: over 64 MiB: prepare" \
    "fewer --tables (their data sets) per call" && exit 1
  echo "device call: run(command=\"bash scripts/device_tables.sh" \
    "${TABLES:+--tables='$TABLES'}\", carry=[\"$CARRY\"], timeout_s=570)"
  exit 0
fi

# ---------------------------------------------------------------- defaults
if (( DRY_RUN )); then
  SUFFIX=:quick QUICK_FLAG=--quick
  : "${BUDGET_S:=600}" "${TIMING_S:=45}" "${SHARDS:=2}" "${MIN_START_S:=0}"
  [[ $ONLY == __unset__ ]] && ONLY='^variant=supervised(,num_labels=100)?$'
  [[ -z $RESULTS ]] && RESULTS=$(mktemp -d /tmp/device_tables_results.XXXX)
  [[ -z $OUT_DIR ]] && OUT_DIR=$(mktemp -d /tmp/device_tables_out.XXXX)
  CNN_FLAGS="--rounds=1 --conv_steps=2 --conv_batch_size=8"
  DENSE_FLAGS="--batch_size=16 --steps=10 --steps_per_call=5 --matmul_size=128"
  ALLOW_DIRTY=1  # a dry run's ledger is thrown away
else
  SUFFIX="" QUICK_FLAG=""
  : "${BUDGET_S:=540}" "${TIMING_S:=60}" "${SHARDS:=8}" "${MIN_START_S:=60}"
  [[ $ONLY == __unset__ ]] && ONLY=""
  : "${RESULTS:=results}"
  : "${OUT_DIR:=workdirs/device_out}"
  CNN_FLAGS="--rounds=3 --conv_steps=20"
  DENSE_FLAGS=""
fi
[[ ${SSVAE_ALLOW_DIRTY:-0} == 1 ]] && ALLOW_DIRTY=1
ONLY_FLAG=()
[[ -n $ONLY ]] && ONLY_FLAG=(--only="$ONLY")
mkdir -p "$OUT_DIR" "$RESULTS"
LOGS=$(mktemp -d /tmp/device_tables_logs.XXXX)
exec > >(tee -a "$OUT_DIR/device_tables.log") 2>&1

elapsed() { echo $((SECONDS - START)); }
say() { echo "== [$(elapsed) s] $*"; }
say "device_tables.sh $* (dry_run=$DRY_RUN): tables $TABLES; budget" \
  "$BUDGET_S s, timing $TIMING_S s, $SHARDS shards, results $RESULTS," \
  "out $OUT_DIR${ONLY:+, --only=$ONLY}"

# ------------------------------------------------------------------ set-up
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
export JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-/tmp/ssvae-device-xla-cache}
if compgen -G "$CARRY/wheels/*.whl" > /dev/null; then
  SITE=/tmp/ssvae-device-site
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target "$SITE" "$CARRY"/wheels/*.whl \
    || { echo "error: the carried wheels did not install"; exit 3; }
  export PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH}
  say "installed $(ls "$CARRY"/wheels | tr '\n' ' ')into $SITE"
fi
if [[ -d $CARRY/data ]]; then  # every loader looks in $SSVAE_DATA_DIR/<name> first
  export SSVAE_DATA_DIR=$REPO/$CARRY/data
  say "data: $(ls "$CARRY/data" | tr '\n' ' ')in $CARRY/data (SSVAE_DATA_DIR)"
fi
command -v nvidia-smi > /dev/null && say "gpu: $(nvidia-smi \
  --query-gpu=name,memory.total,driver_version --format=csv,noheader)"
if ! git rev-parse HEAD > /dev/null 2>&1 && [[ -f $CARRY/git_commit ]]; then
  export SSVAE_GIT_COMMIT=$(cat "$CARRY/git_commit")
fi
"$PY" - "$REQUIRE_PINNED" <<'EOF' || exit 3
import re, sys, tomllib
import jax, ml_collections, ssvae  # fails here, not in eight jobs
from importlib import metadata
pin = next(d for d in tomllib.load(open("pyproject.toml", "rb"))["project"][
    "dependencies"] if re.match(r"jax\b(?!lib)", d))
version = jax.__version__
def parts(v): return tuple(int(x) for x in re.findall(r"\d+", v)[:3])
low = re.search(r">=\s*([\d.]+)", pin); high = re.search(r"<\s*([\d.]+)", pin)
inside = ((not low or parts(version) >= parts(low.group(1)))
          and (not high or parts(version) < parts(high.group(1))))
devices = jax.devices()
print(f"== env: python {sys.version.split()[0]} ({sys.executable}), jax "
      f"{version}, pyproject pin {pin!r}: "
      f"{'inside' if inside else 'OUTSIDE (cells record the jax they ran)'}"
      f"; flax {metadata.version('flax')}; {len(devices)} device(s): "
      f"{sorted({d.device_kind for d in devices})} ({devices[0].platform})")
if not inside and sys.argv[1] == "1":
  sys.exit(f"error: jax {version} is outside {pin!r} (--require_pinned_jax)")
EOF
DIRTY_FLAG=()
if (( ALLOW_DIRTY )); then DIRTY_FLAG=(--allow_dirty)
elif [[ -n $(git status --porcelain 2>/dev/null) ]]; then
  echo "error: uncommitted changes (git status): the sweeps would refuse" \
    "every cell. Commit first, or pass --allow_dirty."
  exit 2
fi

# ------------------------------------------------------------------ timing
say "timing: CNN and dense steps (benchmarks/train_step.py), side by side," \
  "$TIMING_S s at most"
bench() {  # name, flags...
  local name=$1; shift
  timeout -k 5 "$TIMING_S" "$PY" -m benchmarks.train_step "$@" \
    > "$LOGS/timing_$name.log" 2>&1 &
  local pid=$!
  tail -n +1 -F --pid=$pid "$LOGS/timing_$name.log" 2>/dev/null \
    | grep --line-buffered -v -E '^[IWEF][0-9]{4} ' \
    | sed -u "s/^/[timing $name] /" &
  local printer=$!
  wait $pid; local rc=$?
  wait $printer  # tail ends within a second of the benchmark
  (( rc == 124 || rc == 137 )) && echo "[timing $name] stopped at the" \
    "$TIMING_S s limit (rerun with a larger --timing_s for its result)"
  (( rc != 0 && rc != 124 && rc != 137 )) && echo "[timing $name] exit $rc"
}
# shellcheck disable=SC2086
bench cnn --family=cnn $CNN_FLAGS &
cnn_pid=$!
# shellcheck disable=SC2086
bench dense $DENSE_FLAGS &
wait "$cnn_pid" $!  # named: a bare `wait` would wait for the tee above
for name in cnn dense; do
  { echo "### $name"; cat "$LOGS/timing_$name.log"; } >> "$OUT_DIR/timing.log"
done

# ---------------------------------------------------------------- training
DEADLINE=$((START + BUDGET_S - RESERVE_S))
PLAN=$LOGS/plan.txt
"$PY" -m experiments.device_results plan --tables="$TABLES" \
  --results="$RESULTS" --shards="$SHARDS" $QUICK_FLAG \
  "${ONLY_FLAG[@]}" --plan_file="$PLAN" 2>&1 \
  | grep -v -E '^[IWEF][0-9]{4} ' || { echo "error: no plan"; exit 3; }
pack() {
  "$PY" -m experiments.device_results pack --tables="$TABLES" \
    --results="$RESULTS" --out="$OUT_DIR" --logs="$LOGS" $QUICK_FLAG "$@"
}
STOP=$LOGS/stop_copying
( while [[ ! -e $STOP ]]; do pack; sleep "$COPY_EVERY_S"; done ) &
COPIER=$!
FAILED=0
for table in $TABLES; do
  mapfile -t jobs < <(awk -v t="$table" '$1 == t' "$PLAN")
  (( ${#jobs[@]} )) || { say "$table: nothing to train"; continue; }
  left=$((DEADLINE - SECONDS))
  if (( left < MIN_START_S || left <= 0 )); then
    say "$table: not started, ${left} s of the budget left"
    continue
  fi
  say "$table: ${#jobs[@]} job(s) side by side, $left s left"
  pids=()
  for job in "${jobs[@]}"; do
    read -r _ index count ncells <<< "$job"
    log=$LOGS/$table.shard-$index-of-$count.log
    (
      timeout -k 10 "$left" "$PY" -m experiments.sweep \
        --config="configs/$table.py$SUFFIX" --workdir="$RESULTS/$table" \
        --shard="$index/$count" "${ONLY_FLAG[@]}" "${DIRTY_FLAG[@]}" \
        > "$log" 2>&1
      rc=$?
      grep -E '^\[[0-9]+/[0-9]+\] |^error|Error|Traceback' "$log" \
        | sed "s|^|[$table $index/$count] |"
      case $rc in
        0) ;;
        124|137) echo "[$table $index/$count] stopped at the budget's end" ;;
        *) echo "[$table $index/$count] exit $rc; last lines:"
           tail -n 5 "$log" | sed "s|^|[$table $index/$count]   |" ;;
      esac
      exit $rc
    ) &
    pids+=($!)
    echo "[$table $index/$count] started: $ncells cell(s) to train"
  done
  for pid in "${pids[@]}"; do
    wait "$pid"; rc=$?
    (( rc != 0 && rc != 124 && rc != 137 )) && FAILED=1
  done
  pack > /dev/null
  say "$table: done"
done
touch "$STOP"; wait "$COPIER"  # never two packs at once
pack --force > /dev/null  # with the final logs

# ----------------------------------------------------------------- summary
say "finished cells (and their training rate):"
"$PY" -m experiments.device_results summary --tables="$TABLES" \
  --results="$RESULTS"
say "in $OUT_DIR: $(cd "$OUT_DIR" && ls | tr '\n' ' ')"
say "done in $(elapsed) s$( ((FAILED)) && echo ', with failed jobs')"
exit $FAILED
