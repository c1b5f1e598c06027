#!/usr/bin/env bash
# NVT of a 4000-atom Al-Mg cell in LAMMPS (pair_style deepmd) with a pesgen model:
#   bash run.sh RUN_DIR|MODEL.pt [STEPS]
# Exports the ensemble to DeePMD-kit (model/graph.NNN.pth), writes almg.data, runs in.lammps.
# Needs pesgen[deepmd] and a LAMMPS that loads DeePMD-kit's plugin (docs/interop.md); LMP names it
# (default: lmp on PATH), e.g. after scripts/build_deepmd_lammps.sh:
#   LAMMPS_PLUGIN_PATH=$PWD/../../.deepmd-lammps/deepmd/lib LD_LIBRARY_PATH=$VIRTUAL_ENV/lib \
#   LMP=$PWD/../../.deepmd-lammps/lammps/lmp bash run.sh MODEL.pt
set -euo pipefail
cd "$(dirname "$0")"
SOURCE=${1:?usage: bash run.sh RUN_DIR|MODEL.pt [STEPS]}
STEPS=${2:-200}
pesgen export "$SOURCE" --format deepmd --out model
python make_data.py almg.data
MODELS=$(ls model/graph.[0-9][0-9][0-9].pth | tr '\n' ' ')
"${LMP:-lmp}" -in in.lammps -var models "$MODELS" -var steps "$STEPS" -log log.lammps
echo "log.lammps, traj.lammpstrj, model_devi.out (step, max/min/avg virial and force deviations)"
