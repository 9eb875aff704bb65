#!/usr/bin/env bash
# Runs `forge` on the GPU machine from the bundle made by scripts/gpu-bundle.sh, against the
# machine's PyTorch libtorch and its NCCL wheel. Usage (from the repo root there):
#   bash scripts/gpu-run.sh doctor
#   bash scripts/gpu-run.sh bench model --preset ca-1b
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
APP=${FORGE_APP_DIR:-/tmp/forge-app}
if [ ! -x "$APP/forge" ] || [ "$ROOT/.gpu/app.tar.xz" -nt "$APP/forge" ]; then
  mkdir -p "$APP" && tar -C "$APP" -xJf "$ROOT/.gpu/app.tar.xz"
fi
PY=${PYTHON:-python3}
TL=$($PY -c 'import torch,os;print(os.path.dirname(torch.__file__))')/lib
NL=$($PY -c 'import nvidia.nccl,os;print(list(nvidia.nccl.__path__)[0])' 2>/dev/null)/lib || NL=""
export FORGE_LIBTORCH_DIR=$TL
export LD_LIBRARY_PATH=$TL${NL:+:$NL}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
[ -n "$NL" ] && export FORGE_NCCL_LIB=$NL/libnccl.so.2
exec "$APP/forge" "$@"
