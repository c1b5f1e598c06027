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

# GPAW for the DFT labeler (and its CI test): Debian's package, run under /usr/bin/python3.
# Skipped when it is already importable; needs root (or sudo) the first time.
if ! /usr/bin/python3 -c "import gpaw" 2>/dev/null; then
    if command -v apt-get >/dev/null 2>&1; then
        SUDO=""
        if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
            gpaw gpaw-data >/dev/null
    else
        echo "warning: no apt-get; install GPAW for /usr/bin/python3 yourself for the GPAW labeler" >&2
    fi
fi
