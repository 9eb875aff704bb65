#!/usr/bin/env bash
# Recovery time after a process of a cluster job dies (CPU ranks, loopback), for the two kinds of
# process: a node, and the process that hosts the supervisor.
#
# node:       `forge train config/ca-tiny-cpu.toml --cluster-port` with one rank and a `forge node`
#             with another; once the two-rank world is past step 25 (a checkpoint at step 20 exists)
#             the node is killed with SIGKILL. Prints the seconds until the seed steps again.
# supervisor: the seed and two nodes; once the three-rank world is past step 25 the seed (which hosts
#             the supervisor singleton) is killed with SIGKILL. Prints the seconds until one of the
#             nodes, now hosting a new supervisor, steps again.
# Each run then stops the job with SIGTERM. Needs a built tree (scripts/setup.sh).
#
# The node kill also prints where the re-formed world restored from (buddy replicas in memory, or the
# checkpoint) and the completed steps the failure cost; REPLICA_INTERVAL=0 in the environment turns
# buddy replicas off (elastic.replica_interval, default 1).
#
# Usage: [REPLICA_INTERVAL=N] scripts/bench-recovery.sh [node|supervisor|both] [base-port]
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-both}
BASE=${2:-4053}
FORGE=(dotnet src/Forge.Host/bin/Release/net10.0/forge.dll)
[ -f "${FORGE[1]}" ] || { echo "[recovery] build first: scripts/setup.sh" >&2; exit 1; }
LOGS=$(mktemp -d)
RUNS="$LOGS/runs"
COMMON=(--set train.max_steps=400 --set checkpoint.interval=20 --set train.log_interval=1 --set train.eval_interval=0
        --set train.batch_size=4 --set train.global_batch_size=8 --set data.eval_manifest= --set data.unseen_art_manifest=
        --set elastic.min_ranks=1 --set elastic.replica_interval=${REPLICA_INTERVAL:-1})
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done' EXIT

TAG=recovery
source scripts/lib.sh

# seconds_until KILLED_AT REGEX FILE...: until a NEW line matching REGEX appears in any FILE.
seconds_until() {
  local killed=$1 regex=$2; shift 2
  local before=(); for f in "$@"; do before+=("$(grep -cE "$regex" "$f" || true)"); done
  for _ in $(seq 1 3000); do
    local i=0
    for f in "$@"; do
      [ "$(grep -cE "$regex" "$f" || true)" -gt "${before[$i]}" ] && { awk -v a="$killed" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; return 0; }
      i=$((i + 1))
    done
    sleep 0.05
  done
  echo "never"; return 1
}

start_seed() {  # run port
  "${FORGE[@]}" train config/ca-tiny-cpu.toml --cluster-port "$2" --host 127.0.0.1 --ranks 1 --runs "$RUNS" --set run_name="$1" "${COMMON[@]}" > "$LOGS/$1-seed.log" 2>&1 &
  PIDS+=($!); SEED=$!
  wait_for "$LOGS/$1-seed.log" "cluster seed:"
}
start_node() {  # run seed-port port name
  "${FORGE[@]}" node --config config/ca-tiny-cpu.toml --seed "127.0.0.1:$2" --host 127.0.0.1 --port "$3" --runs "$RUNS" --set run_name="$1" "${COMMON[@]}" > "$LOGS/$1-$4.log" 2>&1 &
  PIDS+=($!)
}

if [ "$MODE" = node ] || [ "$MODE" = both ]; then
  start_seed rec-node "$BASE"
  start_node rec-node "$BASE" $((BASE + 1)) node; NODE=${PIDS[-1]}
  echo "[recovery] node kill: waiting for the two-rank world to pass step 25 (logs in $LOGS)"
  wait_for "$LOGS/rec-node-seed.log" "step (2[6-9]|[3-9][0-9])/400 .*world 2"
  killed=$(date +%s.%N); kill -9 "$NODE"
  t=$(seconds_until "$killed" "step [0-9]+/400 .*world 1" "$LOGS/rec-node-seed.log")
  echo "recovery after a node kill: $t s from SIGKILL to the first step of the re-formed world"
  grep -hE "lost|formed with|no copy in memory" "$LOGS/rec-node-seed.log" | tail -3
  # Steps the two-rank world completed before the kill landed count as done.
  last_full=$(grep -oE "step [0-9]+/400 .*world 2" "$LOGS/rec-node-seed.log" | tail -1 | grep -oE "^step [0-9]+" | grep -oE "[0-9]+")
  from=$(grep -oE "continuing from step [0-9]+" "$LOGS/rec-node-seed.log" | tail -1 | grep -oE "[0-9]+$")
  echo "steps lost: $((last_full - from)) (the two-rank world had completed $last_full steps; the re-formed world continued from step $from)"
  kill -TERM "$SEED"; wait "$SEED" || true   # SIGTERM: a non-interactive shell starts background jobs with SIGINT ignored
fi

if [ "$MODE" = supervisor ] || [ "$MODE" = both ]; then
  port=$((BASE + 10))
  start_seed rec-sup "$port"
  start_node rec-sup "$port" $((port + 1)) node1; N1=${PIDS[-1]}
  start_node rec-sup "$port" $((port + 2)) node2; N2=${PIDS[-1]}
  echo "[recovery] supervisor kill: waiting for the three-rank world to pass step 25"
  wait_for "$LOGS/rec-sup-seed.log" "step (2[6-9]|[3-9][0-9])/400 .*world 3"
  killed=$(date +%s.%N); kill -9 "$SEED"
  t=$(seconds_until "$killed" "step [0-9]+/400 .*world 2" "$LOGS/rec-sup-node1.log" "$LOGS/rec-sup-node2.log")
  echo "recovery after the supervisor's process is killed: $t s from SIGKILL to the first step of the new supervisor's world"
  grep -hE "took job" "$LOGS/rec-sup-node1.log" "$LOGS/rec-sup-node2.log" | tail -1
  kill -9 "$N1" "$N2" 2>/dev/null || true
fi
