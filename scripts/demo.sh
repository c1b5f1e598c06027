#!/usr/bin/env bash
# The main job: set up .venv, then run the quick example examples/al-emt: active learning of an
# aluminium potential with EMT labels (DP-GEN loop, 50 -> 2000 K), its report and the model file.
# Re-running resumes (or reports) the same run directory.
set -euo pipefail
cd "$(dirname "$0")/.."
# the quick example needs no DeePMD-kit; the test job builds it (PESGEN_DEEPMD=1 here builds it too)
PESGEN_DEEPMD=${PESGEN_DEEPMD:-0} bash scripts/setup.sh
. "${PESGEN_VENV:-.venv}/bin/activate"
RUN=${PESGEN_RUN:-run-al-emt}
# exit status of pesgen run: 0 converged, 3 finished without converging (still reported), 1 error
rc=0
pesgen run examples/al-emt/config.toml --dir "$RUN" "$@" || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then exit "$rc"; fi
pesgen status "$RUN"
pesgen report "$RUN"
pesgen export "$RUN" --out "$RUN/al-emt-model.pt"
echo "model:  $RUN/al-emt-model.pt   (python: pesgen.load(\"$RUN/al-emt-model.pt\") or pesgen.load(\"$RUN\"))"
echo "report: $RUN/report/index.html"
if [ "$rc" -eq 3 ]; then echo "note: the run finished without converging (pesgen run exit status 3; see pesgen status $RUN)"; fi
