#!/usr/bin/env bash
# One idempotent setup step shared by both README commands (main job and tests).
# Each stage checks before it acts, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

# --- 1. libstdc++ with GLIBCXX_3.4.32 -------------------------------------------------------
# TorchSharp 0.107's libLibTorchSharp.so is built with GCC 13 and needs GLIBCXX_3.4.32.
# Debian 12 ships GCC 12's libstdc++ (up to 3.4.30), so we take Debian 13's libstdc++6 from a
# trixie source pinned at priority 100: nothing else is upgraded unless asked for with -t trixie.
has_glibcxx() {
  local lib
  for lib in /usr/lib/x86_64-linux-gnu/libstdc++.so.6 /usr/lib64/libstdc++.so.6 /usr/lib/libstdc++.so.6; do
    [ -e "$lib" ] && grep -qa 'GLIBCXX_3\.4\.32' "$lib" && return 0
  done
  return 1
}
if has_glibcxx; then
  log "libstdc++ has GLIBCXX_3.4.32"
else
  if [ -r /etc/os-release ] && . /etc/os-release && [ "${ID:-}" = debian ] && [ "${VERSION_ID:-}" = 12 ]; then
    log "Debian 12 lacks GLIBCXX_3.4.32: installing Debian 13's libstdc++6 (pinned trixie source)"
    $SUDO tee /etc/apt/sources.list.d/forge-trixie.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    $SUDO tee /etc/apt/preferences.d/forge-trixie >/dev/null <<'PIN'
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t trixie libstdc++6 >/dev/null
    has_glibcxx || { echo "[setup] error: libstdc++6 from trixie installed but GLIBCXX_3.4.32 is still missing" >&2; exit 1; }
    log "installed libstdc++6 from trixie"
  else
    echo "[setup] error: this host's libstdc++ lacks GLIBCXX_3.4.32 (needed by TorchSharp 0.107)." >&2
    echo "[setup] Install GCC 13+'s libstdc++6 (Ubuntu 24.04 / Debian 13 have it) and run again." >&2
    exit 1
  fi
fi

# --- 2. .NET SDK ------------------------------------------------------------------------------
command -v dotnet >/dev/null || { echo "[setup] error: the .NET 10 SDK is not on PATH (https://dot.net)" >&2; exit 1; }

# --- 3. Demo data (emoji captions) -------------------------------------------------------------
# The demo trains on six vendors' drawings of the same emoji (data.manifest): google's, apple's and
# facebook's of emoji-datasource 16.0.0, and three older sets, EmojiOne's, Facebook Messenger's and
# Facebook's flat drawings of 2018; twitter's drawings are its unseen-art test
# (data.unseen_art_manifest), never trained on. FORGE_EMOJI_VENDOR names one more vendor to convert.
# The first run downloads about 435 MB of npm tarballs (google 74, apple 99, facebook 103, emojione 26,
# messenger 35, facebook-2018 34, twitter 62 MB; kept in data/.npm) and converts them into about
# 125 MB of 64 px PNGs (a few seconds a vendor here, once downloaded); each vendor converts once, so a second run
# only checks stamps.
if [ -x scripts/fetch-emoji.sh ]; then
  vendors=(google apple facebook emojione messenger facebook-2018 twitter)
  extra="${FORGE_EMOJI_VENDOR:-google}"
  [[ " ${vendors[*]} " == *" $extra "* ]] || vendors+=("$extra")
  scripts/fetch-emoji.sh "${vendors[@]}"
fi

# --- 4. Restore and build ------------------------------------------------------------------------
log "building (Release)"
dotnet build ForgeActors.sln -c Release -nologo -v q -clp:ErrorsOnly
log "ready"
