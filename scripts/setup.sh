#!/usr/bin/env bash
# Creates .venv (or reuses it) with CPU torch 2.13.0 first, then pesgen and its test tools.
# Idempotent: a second call installs nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${PESGEN_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install -q --upgrade pip
# CPU torch first, so nothing pulls a multi-GB CUDA build.
python -c "import torch" 2>/dev/null || python -m pip install -q torch==2.13.0
python -m pip install -q -e ".[test]"
