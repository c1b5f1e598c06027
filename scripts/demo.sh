#!/usr/bin/env bash
# The main job: set up .venv, then run pesgen's demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. "${PESGEN_VENV:-.venv}/bin/activate"
pesgen demo "$@"
