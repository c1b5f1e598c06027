"""Stand-alone GPAW job script run by :class:`pesgen.label.gpaw.GpawLabeler` in a subprocess.

It runs under the interpreter that has GPAW (Debian's ``/usr/bin/python3`` for the ``gpaw``
package, or any environment with PyPI's ``gpaw``), optionally under ``mpirun``. It imports only
the standard library, ASE and GPAW (not pesgen), so it works with the older ASE that comes
with the Debian package.

Usage: ``python gpaw_runner.py task.json result.json``

``task.json``: ``{"atoms": {"numbers", "positions" (Å), "cell" (Å), "pbc"},
"params": {"ecut" (eV), "xc", "kpts", "smearing" (eV), "maxiter", "convergence", "spinpol",
"extra"}}``. ``result.json``: ``{"status": "ok", "energy" (eV), "forces" (eV/Å), "stress"
(eV/Å^3, Voigt, ASE sign) or null}`` or ``{"status": "failed", "kind", "reason"}``.
"""

import json
import sys
import time


def main(task_path, result_path):
    from ase import Atoms
    from gpaw import GPAW, PW, FermiDirac
    from gpaw.mpi import world

    with open(task_path) as fh:
        task = json.load(fh)
    a = task["atoms"]
    p = task["params"]
    atoms = Atoms(numbers=a["numbers"], positions=a["positions"], cell=a["cell"], pbc=a["pbc"])
    kwargs = dict(mode=PW(p["ecut"]), xc=p["xc"], kpts=p["kpts"],
                  occupations=FermiDirac(p["smearing"]), maxiter=p["maxiter"],
                  spinpol=p["spinpol"], txt="gpaw.txt")
    if p.get("convergence"):
        kwargs["convergence"] = p["convergence"]
    kwargs.update(p.get("extra") or {})
    atoms.calc = GPAW(**kwargs)
    start = time.time()
    try:
        energy = atoms.get_potential_energy(force_consistent=True)
        forces = atoms.get_forces()
        stress = None
        if all(atoms.pbc):
            stress = atoms.get_stress(voigt=True).tolist()
        out = {"status": "ok", "energy": float(energy), "forces": forces.tolist(),
               "stress": stress, "wall_time": time.time() - start}
    except Exception as err:  # reported to the parent as a typed failure
        names = [cls.__name__ for cls in type(err).__mro__]
        converge = any("ConvergenceError" in n or n == "SCFError" for n in names)
        out = {"status": "failed",
               "kind": "scf-not-converged" if converge else "calculator-error",
               "reason": f"GPAW raised {type(err).__name__}: {err}"}
    if world.rank == 0:
        with open(result_path + ".tmp", "w") as fh:
            json.dump(out, fh)
        import os

        os.replace(result_path + ".tmp", result_path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
