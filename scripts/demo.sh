#!/usr/bin/env bash
# The main job: set up .venv, then run the quick example examples/al-emt: active learning of an
# aluminium potential with EMT labels (DP-GEN loop, 50 -> 2000 K), its report and the model file.
# Re-running resumes (or reports) the same run directory.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. "${PESGEN_VENV:-.venv}/bin/activate"
RUN=${PESGEN_RUN:-run-al-emt}
pesgen run examples/al-emt/config.toml --dir "$RUN" "$@"
pesgen status "$RUN"
pesgen report "$RUN"
pesgen export "$RUN" --model "$RUN/al-emt-model.pt"
echo "model:  $RUN/al-emt-model.pt   (python: pesgen.load(\"$RUN/al-emt-model.pt\") or pesgen.load(\"$RUN\"))"
echo "report: $RUN/report/index.html"
