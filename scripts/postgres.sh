#!/usr/bin/env bash
# A local PostgreSQL server on loopback for the PostgreSQL checkpoint-store tests (idempotent).
# Writes its connection string to .forge-pg/connection. Not needed for training: SQLite is the
# embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[postgres] %s\n' "$*"; }
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
PORT=${FORGE_PG_PORT:-55432}
DIR=$PWD/.forge-pg

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  log "installing postgresql (Debian package)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
mkdir -p "$DIR"
RUNAS=()
if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$DIR"; RUNAS=(runuser -u postgres --); fi

if [ ! -f "$DIR/data/PG_VERSION" ]; then
  log "initialising a cluster in $DIR/data"
  "${RUNAS[@]}" "$BIN/initdb" -D "$DIR/data" -U postgres -A trust >/dev/null
fi
if "${RUNAS[@]}" "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
  # Already running: keep it, and report the port it really listens on.
  PORT=$(cat "$DIR/port" 2>/dev/null || echo "$PORT")
else
  # Another checkout's server (or anything else) may hold the port: take the next free one.
  port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
  for _ in $(seq 1 50); do port_busy "$PORT" || break; PORT=$((PORT + 1)); done
  log "starting on 127.0.0.1:$PORT"
  "${RUNAS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$DIR" start >/dev/null
  echo "$PORT" > "$DIR/port"
fi
echo "Host=127.0.0.1;Port=$PORT;Username=postgres;Database=postgres" > "$DIR/connection.tmp"
mv "$DIR/connection.tmp" "$DIR/connection"
log "ready: $(cat "$DIR/connection")"
