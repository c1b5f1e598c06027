#!/usr/bin/env bash
# The test job: set up .venv, lint, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. "${PESGEN_VENV:-.venv}/bin/activate"
ruff check src tests bench
python -m pytest -q "$@"
