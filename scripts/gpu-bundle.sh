#!/usr/bin/env bash
# Builds the self-contained GPU bundle: `forge` published for linux-x64 with the `system` torch
# backend (no libtorch inside: the GPU machine's PyTorch provides libtorch, CUDA and NCCL),
# compressed into .gpu/app.tar.xz (ignored by git; carried to the GPU machine).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${TMPDIR:-/tmp}/forge-gpu-app
rm -rf "$OUT_DIR"
echo "[gpu-bundle] publishing (TorchBackend=system, self-contained linux-x64)"
dotnet publish src/Forge.Host -c Release -r linux-x64 --self-contained -p:TorchBackend=system \
  -p:DebugType=none -nologo -v q -clp:ErrorsOnly -o "$OUT_DIR"
# Guard against mixing libtorch 2.10 CPU natives with the host's 2.11 CUDA libraries.
if ls "$OUT_DIR"/libtorch_cpu.so "$OUT_DIR"/libtorch.so >/dev/null 2>&1; then
  echo "[gpu-bundle] error: libtorch natives leaked into the system-backend publish" >&2; exit 1
fi
# Debugger and crash-dump helpers are not needed to run, and the device takes 64 MiB in all.
rm -f "$OUT_DIR"/libmscordaccore.so "$OUT_DIR"/libmscordbi.so "$OUT_DIR"/createdump
cp scripts/gpu-run.sh "$OUT_DIR/"
mkdir -p .gpu
tar -C "$OUT_DIR" -cf - . | xz -T0 -9e > .gpu/app.tar.xz.tmp
mv .gpu/app.tar.xz.tmp .gpu/app.tar.xz
EXCLUDE=$(git rev-parse --git-path info/exclude); mkdir -p "$(dirname "$EXCLUDE")"; grep -qx '/.gpu/' "$EXCLUDE" 2>/dev/null || echo '/.gpu/' >> "$EXCLUDE"
echo "[gpu-bundle] .gpu/app.tar.xz: $(du -h .gpu/app.tar.xz | cut -f1) (device limit 64 MiB for tree + carry)"
