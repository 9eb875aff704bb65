#!/usr/bin/env bash
# Failure injection in TorchFT's style (issue #12): a two-process CPU job on loopback (`forge train
# config/ca-tiny-cpu.toml --cluster-port` with one rank, and a `forge node` with another; buddy replicas on)
# in which the node is killed with SIGKILL PERIOD seconds after it joined the world, and started again at
# once, for MINUTES minutes. The restarted node joins the running world at its next checkpoint
# (CHECKPOINT_INTERVAL, default 10 steps). Then prints, from the seed's
# metrics.jsonl (one row per completed step, re-run steps included):
#   - failures injected;
#   - steps executed (every step the job completed, including those a failure later rolled back) and steps
#     committed (the job's progress: steps never rolled back), and their ratio;
#   - training efficiency: useful step time (the step_s of each committed step, counted once) over the wall
#     time from the job's first step to its last. TorchFT reported 81% at one failure per 60 s on 300 GPUs.
# Needs a built tree (scripts/setup.sh). The job's settings are COMMON below.
#
# Usage: scripts/bench-failure-injection.sh [period-s (20)] [minutes (3)] [base-port (4153)]
set -euo pipefail
cd "$(dirname "$0")/.."
PERIOD=${1:-20}
MINUTES=${2:-3}
BASE=${3:-4153}
FORGE=(dotnet src/Forge.Host/bin/Release/net10.0/forge.dll)
[ -f "${FORGE[1]}" ] || { echo "[injection] build first: scripts/setup.sh" >&2; exit 1; }
LOGS=$(mktemp -d)
RUNS="$LOGS/runs"
RUN=failure-injection
COMMON=(--set run_name=$RUN --set train.max_steps=1000000 --set checkpoint.interval=${CHECKPOINT_INTERVAL:-10} --set train.log_interval=1
        --set train.eval_interval=0 --set train.batch_size=4 --set train.global_batch_size=8 --set data.eval_manifest=
        --set data.unseen_art_manifest= --set train.score_samples=0 --set train.generate_samples=0 --set elastic.min_ranks=1
        --set elastic.max_restarts=1000)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done' EXIT

TAG=injection
source scripts/lib.sh
start_node() {  # n
  "${FORGE[@]}" node --config config/ca-tiny-cpu.toml --seed "127.0.0.1:$BASE" --host 127.0.0.1 --port $((BASE + 1)) --runs "$RUNS" "${COMMON[@]}" > "$LOGS/node-$1.log" 2>&1 &
  NODE=$!; PIDS+=($NODE)
}

"${FORGE[@]}" train config/ca-tiny-cpu.toml --cluster-port "$BASE" --host 127.0.0.1 --ranks 1 --runs "$RUNS" "${COMMON[@]}" > "$LOGS/seed.log" 2>&1 &
SEED=$!; PIDS+=($SEED)
wait_for "$LOGS/seed.log" "cluster seed:"
start_node 0
wait_for "$LOGS/seed.log" " world 2 +eta"
echo "[injection] the two-rank world runs; killing the node every $PERIOD s for $MINUTES min (logs in $LOGS, load $(cut -d' ' -f1-3 /proc/loadavg))"
failures=0
end=$((SECONDS + MINUTES * 60))
# joined N: until the seed has logged N more steps of a two-rank world than it had (the node is in the world).
steps2() { grep -cE " world 2 +eta" "$LOGS/seed.log" || true; }
joined() {
  local want=$(( $(steps2) + $1 ))
  while [ "$(steps2)" -lt "$want" ]; do [ $SECONDS -ge "$end" ] && return 1; sleep 0.2; done
}
# Each failure comes PERIOD s after the node (re)joined the world; a node not yet in the world is not a failure.
while joined 1 && [ $((SECONDS + PERIOD)) -le "$end" ]; do
  sleep "$PERIOD"
  kill -9 "$NODE"; wait "$NODE" 2>/dev/null || true
  failures=$((failures + 1))
  start_node "$failures"
  joined 2 || true
done
while [ $SECONDS -lt "$end" ]; do sleep 1; done
# SIGTERM, not SIGINT: a non-interactive shell starts background jobs with SIGINT ignored.
kill -TERM "$SEED"; wait "$SEED" || true
kill -9 "$NODE" 2>/dev/null || true
echo "[injection] load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
grep -hE "restored step|durable checkpoint|formed with" "$LOGS/seed.log" | sed 's/^/  /' | sort | uniq -c | sort -rn | head -6 || true
python3 - "$RUNS/$RUN/metrics.jsonl" "$failures" "$PERIOD" "$MINUTES" <<'PY'
import json, sys
path, failures, period, minutes = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = [json.loads(l) for l in open(path) if '"step_s"' in l]
# A row whose step is not past the previous one starts a re-run: the rows it replaces were rolled back.
kept = []
for r in rows:
    while kept and kept[-1]["step"] >= r["step"]:
        kept.pop()
    kept.append(r)
start = rows[0]["wall_s"] - rows[0]["step_s"]
wall = rows[-1]["wall_s"] - start
useful = sum(r["step_s"] for r in kept)
print(f"failures injected: {failures} (each {period} s after the node joined, for {minutes} min)")
print(f"steps executed: {len(rows)}, steps committed: {len(kept)} ({len(kept) / len(rows):.1%}); {len(rows) - len(kept)} rolled back, "
      f"{(len(rows) - len(kept)) / max(1, failures):.1f} per failure")
print(f"training efficiency: {useful:.1f} s of committed step time over {wall:.1f} s of wall time = {useful / wall:.1%}")
PY
