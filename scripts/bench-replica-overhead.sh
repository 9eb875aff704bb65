#!/usr/bin/env bash
# Step-time overhead of buddy replicas on this machine (CPU ranks), replication on against off.
#
# Runs `forge train config/ca-tiny-cpu.toml --cluster-port` with one rank plus a `forge node` with
# another (each shard's buddy is the other process), ROUNDS times with elastic.replica_interval=1 and
# ROUNDS times with 0, alternating (on, off, on, off, ...) so a shared machine's load falls on both
# alike. Prints each job's median step time (step_s of metrics.jsonl, after the first 10 steps) and the
# ratio of the medians, on to off. Needs a built tree (scripts/setup.sh).
#
# Usage: scripts/bench-replica-overhead.sh [rounds (3)] [steps per job (80)] [seed-port] [node-port]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
STEPS=${2:-80}
SEED_PORT=${3:-4063}
NODE_PORT=${4:-4064}
FORGE=(dotnet src/Forge.Host/bin/Release/net10.0/forge.dll)
[ -f "${FORGE[1]}" ] || { echo "[overhead] build first: scripts/setup.sh" >&2; exit 1; }
RUN=bench-replica-overhead
LOGS=$(mktemp -d)

median_step() {   # metrics.jsonl -> median step_s of the steps after the 10th
  python3 - "$1" <<'PY'
import json, statistics, sys
steps = [json.loads(l) for l in open(sys.argv[1]) if '"step_s"' in l]
print(f"{statistics.median(s['step_s'] for s in steps if s['step'] > 10):.4f}")
PY
}

job() {   # replica interval -> prints the job's median step time
  local interval=$1
  local common=(--set run_name=$RUN --set train.max_steps=$STEPS --set checkpoint.interval=0 --set train.log_interval=1
    --set train.eval_interval=0 --set train.score_samples=0 --set train.generate_samples=0
    --set elastic.min_ranks=2 --set elastic.replica_interval=$interval)
  rm -rf "runs/$RUN"
  "${FORGE[@]}" node --config config/ca-tiny-cpu.toml --seed "127.0.0.1:$SEED_PORT" --host 127.0.0.1 --port "$NODE_PORT" --ranks 1 "${common[@]}" > "$LOGS/node-$interval.log" 2>&1 &
  local node=$!
  "${FORGE[@]}" train config/ca-tiny-cpu.toml --cluster-port "$SEED_PORT" --host 127.0.0.1 --ranks 1 "${common[@]}" > "$LOGS/seed-$interval.log" 2>&1
  wait $node || true
  grep -q "world 2" "$LOGS/seed-$interval.log" || { echo "[overhead] no two-rank world formed (logs in $LOGS)" >&2; exit 1; }
  median_step "runs/$RUN/metrics.jsonl"
}

on=(); off=()
for round in $(seq 1 "$ROUNDS"); do
  on+=("$(job 1)"); off+=("$(job 0)")
  echo "[overhead] round $round: median step ${on[-1]} s with replicas, ${off[-1]} s without"
done
python3 - "${on[*]}" "${off[*]}" <<'PY'
import statistics, sys
on = [float(x) for x in sys.argv[1].split()]
off = [float(x) for x in sys.argv[2].split()]
m_on, m_off = statistics.median(on), statistics.median(off)
print(f"replication overhead: median step {m_on*1000:.1f} ms on / {m_off*1000:.1f} ms off = {m_on/m_off:.3f} "
      f"(ca-tiny-cpu, 2 processes x 1 CPU rank, {len(on)} jobs each, alternating)")
PY
