#!/usr/bin/env bash
# Creates .venv (or reuses it) with CPU torch 2.13.0 first, then pesgen and its test tools, GPAW
# (Debian) and DeePMD-kit 3.2.0 built from source against that torch (pesgen[deepmd]).
# Idempotent: a second call installs nothing new. PESGEN_DEEPMD=0 skips DeePMD-kit.
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

deb_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
apt_install() {  # Debian packages; needs root (or sudo)
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "warning: no apt-get; install $* yourself" >&2
        return 0
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# GPAW for the DFT labeler (and its CI test): Debian's package, run under /usr/bin/python3.
if ! /usr/bin/python3 -c "import gpaw" 2>/dev/null; then
    apt_install gpaw gpaw-data
fi

# DeePMD-kit 3.2.0, PyTorch backend, CPU, built against the torch above (the PyPI wheel's C++ ops
# are built for another torch): the export to DeePMD-kit and its parity tests (docs/interop.md).
if [ "${PESGEN_DEEPMD:-1}" != 0 ] && \
        ! python -c "import sys, deepmd; sys.exit(deepmd.__version__ != '3.2.0')" 2>/dev/null; then
    # With Debian's OpenMPI runtime present (GPAW's), CMake's FindMPI finds it and needs its headers.
    if deb_installed libopenmpi3 && ! deb_installed libopenmpi-dev; then
        apt_install libopenmpi-dev
    fi
    python -m pip install -q scikit-build-core hatch-fancy-pypi-readme setuptools_scm dependency_groups \
        cmake ninja packaging
    DP_ENABLE_TENSORFLOW=0 DP_ENABLE_PYTORCH=1 DP_VARIANT=cpu \
        python -m pip install -q --no-build-isolation --no-binary deepmd-kit deepmd-kit==3.2.0
fi
if [ "${PESGEN_DEEPMD:-1}" != 0 ]; then
    python -m pip install -q -e ".[test,deepmd]"
else
    python -m pip install -q -e ".[test]"
fi
