#!/usr/bin/env bash
# The whole test suite (the README's test command; .ci/run runs exactly this).
# Sets the machine up (scripts/setup.sh), starts a loopback PostgreSQL for the PostgreSQL store
# tests, runs every test project, and ends with the plain totals line CI reads.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || exit 1
scripts/postgres.sh || exit 1
export FORGE_PG_CONNECTION="${FORGE_PG_CONNECTION:-$(cat .forge-pg/connection 2>/dev/null)}"

# GPU tests are opt-in (FORGE_GPU_TESTS=1 on the GPU machine); CI has no GPU.
filter="Category!=Gpu"
[ "${FORGE_GPU_TESTS:-0}" = 1 ] && filter="Category=Gpu|Category!=Gpu"

log=$(mktemp)
dotnet test ForgeActors.sln -c Release --no-build --filter "$filter" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
# VSTest prints one "Passed!/Failed!  - Failed: a, Passed: b, Skipped: c, Total: d" line per project.
read -r passed failed skipped projects < <(grep -E '^(Passed|Failed)!' "$log" \
  | sed -E 's/.*Failed: *([0-9]+), Passed: *([0-9]+), Skipped: *([0-9]+).*/\1 \2 \3/' \
  | awk '{f+=$1; p+=$2; s+=$3; n++} END {printf "%d %d %d %d\n", p, f, s, n}')
rm -f "$log"
expected=$(grep -c 'Tests\.csproj' ForgeActors.sln)
echo
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # A test host that crashed or a build error prints no summary: never report that as green.
  echo "[test] dotnet test exited $rc with $projects of $expected test projects reporting; counting that as a failure"
  failed=1
fi
[ "$skipped" -gt 0 ] && echo "($skipped skipped)"
# The plain totals line CI reads, on its own.
echo "$passed passed, $failed failed"
exit $rc
