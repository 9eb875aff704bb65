#!/usr/bin/env bash
# Recovery time after a node's process dies, on this machine (CPU ranks).
#
# Starts `forge train config/ca-tiny-cpu.toml --cluster-port` with one rank and a `forge node`
# with another, waits until the two-rank world is past step 60 (a checkpoint at step 50 exists),
# kills the node with SIGKILL, and prints the seconds until the job steps again on one rank, where
# that world restored from (buddy replicas in memory, or the checkpoint) and the completed steps
# the failure cost. Then it stops the job with SIGINT (a checkpoint, exit 0). Needs a built tree
# (scripts/setup.sh).
#
# Usage: scripts/bench-recovery.sh [seed-port] [node-port] [replica-interval (default 1; 0 = off)]
set -euo pipefail
cd "$(dirname "$0")/.."
SEED_PORT=${1:-4053}
NODE_PORT=${2:-4054}
REPLICA_INTERVAL=${3:-1}
FORGE=(dotnet src/Forge.Host/bin/Release/net10.0/forge.dll)
[ -f "${FORGE[1]}" ] || { echo "[recovery] build first: scripts/setup.sh" >&2; exit 1; }
RUN=bench-recovery
LOGS=$(mktemp -d)
COMMON=(--set run_name=$RUN --set train.max_steps=400 --set checkpoint.interval=50 --set train.log_interval=1 --set train.eval_interval=0 --set elastic.replica_interval=$REPLICA_INTERVAL)
rm -rf "runs/$RUN"

"${FORGE[@]}" train config/ca-tiny-cpu.toml --cluster-port "$SEED_PORT" --host 127.0.0.1 --ranks 1 "${COMMON[@]}" > "$LOGS/seed.log" 2>&1 &
SEED=$!
trap 'kill $SEED 2>/dev/null || true; kill ${NODE:-0} 2>/dev/null || true' EXIT
sleep 2
"${FORGE[@]}" node --config config/ca-tiny-cpu.toml --seed "127.0.0.1:$SEED_PORT" --host 127.0.0.1 --port "$NODE_PORT" --ranks 1 "${COMMON[@]}" > "$LOGS/node.log" 2>&1 &
NODE=$!

echo "[recovery] waiting for the two-rank world to pass step 60 (logs in $LOGS)"
for _ in $(seq 1 600); do
  grep -qE "step (6[0-9])/400 .*world 2" "$LOGS/seed.log" && break
  kill -0 $SEED 2>/dev/null || { echo "[recovery] the job ended early:" >&2; tail -5 "$LOGS/seed.log" >&2; exit 1; }
  sleep 0.5
done
grep -qE "world 2" "$LOGS/seed.log" || { echo "[recovery] no two-rank world formed" >&2; exit 1; }

killed=$(date +%s.%N)
kill -9 $NODE
echo "[recovery] killed the node (SIGKILL)"
for _ in $(seq 1 1200); do
  tail -n 3 "$LOGS/seed.log" | grep -qE "step [0-9]+/400 .*world 1" && break
  sleep 0.1
done
back=$(date +%s.%N)
grep -E "world [0-9]+ lost|formed with|no copy in memory" "$LOGS/seed.log" | tail -3
# Steps the two-rank world completed between the poll above and the kill count as done too.
last_full=$(grep -oE "step [0-9]+/400 .*world 2" "$LOGS/seed.log" | tail -1 | grep -oE "^step [0-9]+" | grep -oE "[0-9]+")
from=$(grep -oE "continuing from step [0-9]+" "$LOGS/seed.log" | tail -1 | grep -oE "[0-9]+$")
awk -v a="$killed" -v b="$back" 'BEGIN { printf "recovery: %.2f s from SIGKILL to the first step of the re-formed world\n", b - a }'
echo "steps lost: $((last_full - from)) (the two-rank world had completed $last_full steps; the re-formed world continued from step $from)"

kill -INT $SEED
wait $SEED || true
