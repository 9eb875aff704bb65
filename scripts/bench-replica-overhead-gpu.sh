#!/usr/bin/env bash
# Step-time overhead of buddy replicas on one GPU (issue #12): ca-1b trained by `forge train --cluster-port`
# on the GPU, its buddy a `forge node --memory-only` process on the same machine's CPU and memory. Each copy
# goes from the device into page-locked host buffers, then over the replica channel's TCP to the buddy,
# while the next steps run. One job per replica interval (0: off, no buddy process), one after the other
# in one call. An interval of k runs at least 2k measured steps, so that its copies fall inside the window.
# Each job is stopped with SIGKILL once it has logged WARMUP + those steps (so no final
# checkpoint of 13 GB is written). Prints, per job, the median and the mean of the wall time between
# consecutive steps after the first WARMUP (metrics.jsonl wall_s: it includes any step held back
# waiting for a copy) and the median step_s (the step itself), then each interval's ratio to interval 0.
# With replicas on it also prints the work at risk: metrics.jsonl's step minus memory_step (the newest step
# every shard had a complete copy of), median and max over the counted steps, and the copy rounds that completed.
#
# Usage: FORGE=<forge executable> scripts/bench-replica-overhead-gpu.sh [steps (20)] [intervals ("0 1")] [warmup (5)] [seconds per job (240)]
# CONFIG picks the job config (config/ca-1b-gpu.toml); SETS adds --set overrides to both processes, e.g. a data
# manifest on the GPU machine: SETS="data.manifest=/abs/train.jsonl data.eval_manifest=".
set -uo pipefail
cd "$(dirname "$0")/.."
FORGE=${FORGE:?set FORGE to the forge executable}
STEPS=${1:-20}
INTERVALS=${2:-"0 1"}
WARMUP=${3:-5}
LIMIT=${4:-240}
CONFIG=${CONFIG:-config/ca-1b-gpu.toml}
PORT=${PORT:-4081}
RUNS=$(mktemp -d)
LOGS=${LOGS:-$RUNS/logs}
mkdir -p "$LOGS"
RESULTS="$LOGS/results.txt"
: > "$RESULTS"

job() {   # interval -> appends "interval median_ms mean_ms step_median_ms steps lag_median lag_max rounds" to $RESULTS
  local interval=$1 run="replica-gpu-$1"
  local common=(--set run_name=$run --set train.max_steps=100000 --set checkpoint.interval=0 --set train.log_interval=1
    --set elastic.replica_interval=$interval)
  local extra
  for extra in ${SETS:-}; do common+=(--set "$extra"); done
  "$FORGE" train "$CONFIG" --cluster-port "$PORT" --host 127.0.0.1 --runs "$RUNS" "${common[@]}" > "$LOGS/seed-$interval.log" 2>&1 &
  local seed=$! node=""
  if [ "$interval" -gt 0 ]; then
    "$FORGE" node --memory-only --config "$CONFIG" --seed "127.0.0.1:$PORT" --host 127.0.0.1 --runs "$RUNS" "${common[@]}" > "$LOGS/node-$interval.log" 2>&1 &
    node=$!
  fi
  local measured=$((2 * interval > STEPS ? 2 * interval : STEPS))
  local metrics="$RUNS/$run/metrics.jsonl" want=$((WARMUP + measured + 1)) start=$SECONDS
  while kill -0 "$seed" 2>/dev/null && [ $((SECONDS - start)) -lt "$LIMIT" ]; do
    [ -f "$metrics" ] && [ "$(grep -c '"step_s"' "$metrics")" -ge "$want" ] && break
    sleep 0.5
  done
  kill -9 "$seed" $node 2>/dev/null; wait "$seed" $node 2>/dev/null
  grep -E "memory-only|buddy|copy|lost|error" "$LOGS/seed-$interval.log" | head -5
  python3 - "$metrics" "$interval" "$WARMUP" >> "$RESULTS" <<'PY'
import json, statistics, sys
path, interval, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    steps = [json.loads(l) for l in open(path) if '"step_s"' in l]
except OSError:
    steps = []
steps = [s for s in steps if s["step"] > warmup]
gaps = [b["wall_s"] - a["wall_s"] for a, b in zip(steps, steps[1:])]
lags = [s["step"] - s["memory_step"] for s in steps if "memory_step" in s]
risk = f"{statistics.median(lags):.0f} {max(lags)} {len({s['memory_step'] for s in steps if 'memory_step' in s})}" if lags else "- - 0"
if len(gaps) < 2:
    print(interval, "nan nan nan", len(gaps), risk)
else:
    print(interval, f"{statistics.median(gaps)*1e3:.1f} {statistics.mean(gaps)*1e3:.1f} {statistics.median(s['step_s'] for s in steps)*1e3:.1f}", len(gaps), risk)
PY
  echo "[replica-gpu] interval $interval: $(tail -1 "$RESULTS") (median ms between steps, mean ms, median step_s ms, steps counted, steps at risk median and max, copy rounds completed)"
}

for interval in $INTERVALS; do job "$interval"; done
python3 - "$RESULTS" <<'PY'
import sys
rows = {r[0]: r for r in (l.split() for l in open(sys.argv[1]))}
base = rows.get("0")
for interval, (_, median, mean, step, n, lag, lag_max, rounds) in rows.items():
    line = f"replica_interval={interval}: {median} ms median between steps, {mean} ms mean, step_s median {step} ms, {n} steps"
    if interval != "0":
        line += f"; steps at risk (step - memory_step) median {lag}, max {lag_max}; {rounds} copy rounds completed"
    if base and interval != "0" and base[1] != "nan" and median != "nan":
        line += f"; ratio to off: median {float(median)/float(base[1]):.3f}, mean {float(mean)/float(base[2]):.3f}"
    print("[replica-gpu]", line)
PY
