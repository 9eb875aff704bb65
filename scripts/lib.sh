# Shell helpers shared by the benchmark scripts; sourced, not run. TAG names the script in messages.

# wait_for FILE REGEX: until a line of FILE matches (or 300 s pass).
wait_for() {
  for _ in $(seq 1 3000); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "[${TAG:-forge}] timed out waiting for /$2/ in $1" >&2; tail -5 "$1" >&2; return 1
}
