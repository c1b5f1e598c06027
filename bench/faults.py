"""Faults, measured: kill -9 at random instants over a whole run, and bad inputs.

    PYTHONPATH=src python bench/faults.py kills --kills 20 [--max-iterations N] [--delay 0.2]
    PYTHONPATH=src python bench/faults.py inputs [--run RUN]

``kills``: an uninterrupted run of examples/al-emt (labels by ASE's EMT slowed to ``--delay`` s each,
so that label batches are in flight), then the same run SIGKILLed (the driver only, as ``kill -9``
would) at ``--kills`` random instants spread over its progress and resumed each time. Printed: each
kill (instant, the step it interrupted, labels stored by then, processes left behind), then labels
total, duplicates, labels computed again, and whether the final result equals the uninterrupted
one (the stored labels by task id, the steps done, the final model's weights, the final reason).

``inputs``: 50+ malformed configs, command lines and files, each given to the ``pesgen`` command in
a subprocess; printed as a table (input, exit status, message), each expected to be one line.

Every label computed is counted by :class:`SlowCountingEMT` (one line per label in the file
``$PESGEN_FAULTS_COUNTER``), which is how recomputed labels are measured. Results: bench/RESULTS.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ase.calculators.emt import EMT

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXAMPLE = ROOT / "examples" / "al-emt" / "config.toml"
PESGEN = [sys.executable, "-c", "import sys; from pesgen.cli import app; sys.exit(app())"]


class SlowCountingEMT(EMT):
    """ASE's EMT, ``delay`` s slower per calculation, appending the structure's hash to the file
    ``$PESGEN_FAULTS_COUNTER`` after each one (a label computed)."""

    def __init__(self, delay: float = 0.2, **kwargs) -> None:
        super().__init__(**kwargs)
        self.delay = float(delay)

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        time.sleep(self.delay)
        super().calculate(atoms, properties, system_changes)
        counter = os.environ.get("PESGEN_FAULTS_COUNTER")
        if counter:  # EMT computes energy, forces and stress in one call: one call per label
            digest = hashlib.sha256(self.atoms.numbers.tobytes() + self.atoms.positions.round(6).tobytes())
            with open(counter, "a") as fh:  # one short append: atomic between processes
                fh.write(digest.hexdigest()[:20] + "\n")


# ------------------------------------------------------------------------------------------ kills
def write_config(folder: Path, max_iterations: int | None, delay: float) -> Path:
    """examples/al-emt with the slowed, counting EMT as labeler (and fewer iterations, if given)."""
    text = EXAMPLE.read_text()
    label = '[label]\nkind = "emt"'
    assert label in text, "examples/al-emt changed: update bench/faults.py"
    text = text.replace(label, f'[label]\nkind = "ase"\ncalculator = "faults.SlowCountingEMT"\n'
                               f'kwargs = {{ delay = {delay} }}\nname = "slow-emt"')
    if max_iterations is not None:
        assert "max_iterations = 20" in text
        text = text.replace("max_iterations = 20", f"max_iterations = {max_iterations}")
    path = folder / "config.toml"
    path.write_text(text)
    return path


def _env(counter: Path) -> dict[str, str]:
    path = os.pathsep.join([str(ROOT / "src"), str(HERE), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "PESGEN_FAULTS_COUNTER": str(counter)}


def _start(config: Path, run: Path, counter: Path, target: Path | None = None) -> subprocess.Popen:
    args = [str(target)] if target is not None else [str(config), "--dir", str(run)]
    with open(counter.with_suffix(".out"), "a") as out:  # every driver's output, in order
        return subprocess.Popen([*PESGEN, "run", *args, "--quiet"], env=_env(counter), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _session(sid: int) -> list[int]:
    """Live processes of session ``sid`` (the driver's descendants keep its session)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                out.append(int(entry))
    return out


def _done(run: Path) -> list[str]:
    try:
        return json.loads((run / "state.json").read_text())["done"]
    except (OSError, ValueError, KeyError):
        return []


def _store_rows(run: Path) -> int:
    import sqlite3

    if not (run / "store.db").exists():
        return 0
    con = sqlite3.connect(f"file:{run / 'store.db'}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT COUNT(*) FROM systems").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        con.close()


def _next_step(done: list[str]) -> str:
    """The step in progress after ``done`` (what a kill interrupted)."""
    if "initial" not in done:
        return "initial"
    last = done[-1]
    if last == "initial":
        return "0/train"
    it, step = last.split("/")
    order = ["train", "explore", "audit", "select", "label"]
    return f"{int(it) + 1}/train" if step == "label" else f"{it}/{order[order.index(step) + 1]}"


LABEL_STEPS = ("initial", "audit", "label")


def kills(n_kills: int, max_iterations: int | None, delay: float, seed: int, work: Path,
          label_kills: int = 4) -> dict:
    """The uninterrupted run (kept in ``work/reference`` and reused), then the killed one.

    The kill instants are ``n_kills`` sorted uniform draws over the uninterrupted run's time line;
    each is mapped to the step it falls in and the fraction of that step's wall time. The killed run
    is SIGKILLed that fraction into that step (a step redone after a kill starts again, so kills at
    random wall-clock instants alone could keep killing the same training forever). Labeling is a
    few per cent of the wall time, so ``label_kills`` of the instants are drawn within the labeling
    steps' time (initial labels, audits, labels) to land in label batches in flight."""
    work.mkdir(parents=True, exist_ok=True)
    config = write_config(work, max_iterations, delay)
    reference, killed = work / "reference", work / "killed"
    if not (reference / "state.json").exists() or not json.loads((reference / "state.json").read_text())["finished"]:
        shutil.rmtree(reference, ignore_errors=True)
        (work / "reference.count").unlink(missing_ok=True)
        t0 = time.monotonic()
        _start(config, reference, work / "reference.count").wait()
        print(f"uninterrupted run: {time.monotonic() - t0:.0f} s", flush=True)
    state = json.loads((reference / "state.json").read_text())
    steps = [(key, float(state["wall_times"][key])) for key in state["done"]]
    t_ref = sum(t for _, t in steps)
    rng = random.Random(seed)
    spans, elapsed = [], 0.0  # the labeling steps on the time line
    for key, duration in steps:
        if key.split("/")[-1] in LABEL_STEPS and duration > 0.5:
            spans.append((elapsed, duration))
        elapsed += duration
    instants = [rng.uniform(0.0, t_ref) for _ in range(n_kills - label_kills)]
    for _ in range(label_kills if spans else 0):
        start, duration = rng.choice(spans)
        instants.append(start + rng.uniform(0.0, duration))
    instants.sort()
    shutil.rmtree(killed, ignore_errors=True)
    (work / "killed.count").unlink(missing_ok=True)
    rows = []
    log, size = killed / "log.txt", 0
    proc = _start(config, killed, work / "killed.count")
    for k, instant in enumerate(instants):
        elapsed = 0.0
        for key, duration in steps:  # noqa: B007 (key is the step the instant falls in)
            if instant < elapsed + duration:
                break
            elapsed += duration
        step = key
        fraction = (instant - elapsed) / duration if duration else 0.0
        while (not log.exists() or log.stat().st_size <= size) and proc.poll() is None:
            time.sleep(0.05)  # the driver started: its first log line ("new run" / "resuming")
        while _next_step(_done(killed)) != step and step not in _done(killed) and proc.poll() is None:
            time.sleep(0.05)  # the killed run reaches the step (or is past it already)
        at_start = _store_rows(killed)
        if proc.poll() is not None:
            print(f"kill {k + 1}: the run had ended", flush=True)
            break
        time.sleep(fraction * duration)
        done, stored = _done(killed), _store_rows(killed)
        if proc.poll() is not None:
            print(f"kill {k + 1}: the run had ended", flush=True)
            break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(3.0)  # the workers' watch reacts within a second
        left = _session(proc.pid)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        during = _next_step(done)
        partial = during.split("/")[-1] in LABEL_STEPS and stored > at_start
        rows.append({"kill": k + 1, "instant_s": round(instant, 1), "step": during,
                     "slept_s": round(fraction * duration, 1), "rows_at_step_start": at_start, "rows": stored,
                     "partial_batch": partial, "left": len(left)})
        note = " (a label batch partly stored)" if partial else ""
        print(f"kill {k + 1:2d} at {instant:6.1f} s of the run time line, during {during:14s} store rows "
              f"{at_start:4d} at its start, {stored:4d} at the kill{note}; processes left {len(left)}", flush=True)
        size = log.stat().st_size if log.exists() else 0
        proc = _start(config, killed, work / "killed.count",
                      target=killed if (killed / "config.toml").exists() else None)
    rc_killed = proc.wait()
    return {"t_reference_s": t_ref, "rc_killed": rc_killed, "kills": rows, **compare(reference, killed, work)}


def compare(reference: Path, killed: Path, work: Path) -> dict:
    """Labels total, duplicates, recomputed; equality of labels, steps, final model, reason."""
    import numpy as np
    import torch

    from pesgen.data.store import Store

    def labels(run: Path) -> dict[str, tuple]:
        store = Store(run / "store.db", readonly=True)
        out = {}
        for a in store.frames(include_failed=True):
            tid = a.info["provenance"].task_id
            calc = a.calc
            out.setdefault(tid, []).append((a.positions.copy(), None if calc is None else calc.results["energy"],
                                            None if calc is None else calc.results["forces"].copy()))
        return out

    ref, got = labels(reference), labels(killed)
    same_labels = sorted(ref) == sorted(got) and all(
        np.array_equal(ref[t][0][0], got[t][0][0]) and ref[t][0][1] == got[t][0][1]
        and np.array_equal(ref[t][0][2], got[t][0][2]) for t in ref)
    state_ref = json.loads((reference / "state.json").read_text())
    state_got = json.loads((killed / "state.json").read_text())
    last = max(int(k.split("/")[0]) for k in state_ref["done"] if "/" in k)
    m_ref = torch.load(reference / f"iter.{last:06d}" / "model.pt", weights_only=True)["state_dict"]
    m_got = torch.load(killed / f"iter.{last:06d}" / "model.pt", weights_only=True)["state_dict"]
    same_model = m_ref.keys() == m_got.keys() and all(torch.equal(m_ref[k], m_got[k]) for k in m_ref)
    computed_ref = (work / "reference.count").read_text().split()
    computed = (work / "killed.count").read_text().split()
    n_rows = sum(len(v) for v in got.values())
    return {"labels_reference": sum(len(v) for v in ref.values()), "labels_total": n_rows,
            "duplicates": n_rows - len(got), "computed_reference": len(computed_ref), "computed": len(computed),
            "recomputed": len(computed) - len(set(computed)), "same_labels": same_labels,
            "same_steps": state_ref["done"] == state_got["done"], "same_final_model": same_model,
            "same_reason": state_ref["reason"] == state_got["reason"], "reason": state_got["reason"]}


# ----------------------------------------------------------------------------------------- inputs
def _edit(old: str, new: str):
    def make(folder: Path) -> list[str]:
        text = EXAMPLE.read_text()
        assert old in text, f"examples/al-emt lacks {old!r}"
        (folder / "config.toml").write_text(text.replace(old, new, 1))
        return ["run", str(folder / "config.toml"), "--dir", str(folder / "run"), "--quiet"]
    return make


def _files(command: list[str], files: dict[str, bytes | str] | None = None):
    def make(folder: Path) -> list[str]:
        for name, content in (files or {}).items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return [c.replace("{dir}", str(folder)) for c in command]
    return make


BAD_CONFIGS = [
    ("TOML syntax error", 'name = "al-emt"', 'name = "al-emt'),
    ("unknown top-level key", "seed = 1\n", "seed = 1\nseeds = 2\n"),
    ("unknown key in [train]", "n_members = 4", "n_members = 4\nn_member = 4"),
    ("numb_steps a word", "numb_steps = 2000", 'numb_steps = "many"'),
    ("timestep a numeric string", "timestep = 2.0", 'timestep = "2.0"'),
    ("negative timestep", "timestep = 2.0", "timestep = -2.0"),
    ("no elements", 'elements = ["Al"]', "elements = []"),
    ("unknown element", 'elements = ["Al"]', 'elements = ["Xx"]'),
    ("max_iterations 0", "max_iterations = 20", "max_iterations = 0"),
    ("seed a float", "seed = 1\n", "seed = 1.5\n"),
    ("unknown labeler kind", 'kind = "emt"', 'kind = "vasp2"'),
    ("unknown executor kind", 'kind = "local"', 'kind = "gpu"'),
    ("max_workers 0", "max_workers = 2", "max_workers = 0"),
    ("mp_context unknown", "max_workers = 2", 'max_workers = 2\nmp_context = "threads"'),
    ("f_lo above f_hi", "f_lo = 0.10", "f_lo = 0.50"),
    ("unknown selection strategy", 'strategy = "random"', 'strategy = "best"'),
    ("negative max_per_system", "max_per_system = 8", "max_per_system = -3"),
    ("accurate_ratio above 1", "accurate_ratio = 0.95", "accurate_ratio = 1.5"),
    ("unknown ensemble", 'ensemble = "nvt"', 'ensemble = "nvx"'),
    ("negative t_min", "t_min = 50.0", "t_min = -10.0"),
    ("n_steps 0", "n_steps = 400", "n_steps = 0"),
    ("record_every 0", "record_every = 10", "record_every = 0"),
    ("unknown lattice", '"fcc", "hcp", "sc"', '"fcc", "hcp", "bcc2"'),
    ("supercell of size 0", "size = [2, 2, 2]", "size = [0, 2, 2]"),
    ("alpha_min above alpha_max", "alpha_min = 0.96", "alpha_min = 1.10"),
    ("negative perturbation", "sigma_a = 0.01", "sigma_a = -0.1"),
    ("negative rcut", "rcut = 5.0", "rcut = -5.0"),
    ("rcut_smth above rcut", "rcut_smth = 1.0", "rcut_smth = 6.0"),
    ("unknown precision", 'precision = "float32"', 'precision = "float16"'),
    ("n_members 0", "n_members = 4", "n_members = 0"),
    ("start_lr a word", "start_lr = 0.005", 'start_lr = "fast"'),
    ("label timeout 0", 'kind = "emt"', 'kind = "emt"\n\n[label_policy]\ntimeout = 0'),
    ("max_failed_ratio 2", 'kind = "emt"', 'kind = "emt"\n\n[label_policy]\nmax_failed_ratio = 2'),
    ("audit per_system -1", "per_system = 2", "per_system = -1"),
    ("threads 0", "threads = 1 ", "threads = 0 "),
    ("warm-start steps -1", "numb_steps = 1500", "numb_steps = -1"),
    ("missing initial file", "[initial.structures]", 'initial.files = ["missing.xyz"]\n[initial.structures]'),
    ("dask: address and local", 'kind = "local"\nmax_workers = 2',
     'kind = "dask"\naddress = "tcp://127.0.0.1:1"\nlocal = { n_workers = 1 }'),
    ("dask: unknown batch system", 'kind = "local"\nmax_workers = 2',
     'kind = "dask"\njobqueue = { system = "torque", cores = 1, memory = "1GB" }'),
    ("dask: jobqueue without cores", 'kind = "local"\nmax_workers = 2',
     'kind = "dask"\njobqueue = { system = "slurm", memory = "1GB" }'),
    ("dask: slurm without sbatch", 'kind = "local"\nmax_workers = 2',
     'kind = "dask"\njobs = 1\njobqueue = { system = "slurm", cores = 1, memory = "1GB" }'),
    ("dask: unreachable scheduler", 'kind = "local"\nmax_workers = 2',
     'kind = "dask"\naddress = "tcp://127.0.0.1:1"\nconnect_timeout = 2.0'),
    ("negative mass", 'elements = ["Al"]', 'elements = ["Al"]\nmasses = { Al = -1.0 }'),
    ("n_stages 0", "n_stages = 6", "n_stages = 0"),
    ("negative force target", "target_force_rmse = 0.05", "target_force_rmse = -0.05"),
]

BAD_COMMANDS = [
    ("config file missing", ["run", "{dir}/nope.toml", "--quiet"], None),
    ("config is a folder, not a run", ["run", "{dir}/folder", "--quiet"], {"folder/notes.txt": "x"}),
    ("config is binary", ["run", "{dir}/bin.toml", "--quiet"], {"bin.toml": b"\x00\xff\xfe" * 50}),
    ("run --dir onto a foreign folder", ["run", str(EXAMPLE), "--dir", "{dir}/mine", "--quiet"],
     {"mine/thesis.tex": "x"}),
    ("status of a missing folder", ["status", "{dir}/nope"], None),
    ("status of a folder that is no run", ["status", "{dir}/folder"], {"folder/notes.txt": "x"}),
    ("check of a folder that is no run", ["check", "{dir}/folder"], {"folder/notes.txt": "x"}),
    ("model info on a text file", ["model", "info", "{dir}/notes.txt"], {"notes.txt": "hello"}),
    ("model info on a missing file", ["model", "info", "{dir}/nope.pt"], None),
    ("data import of a missing file", ["data", "import", "{dir}/nope.xyz", "--store", "{dir}/s.db"], None),
    ("data info on a text file", ["data", "info", "{dir}/notes.txt"], {"notes.txt": "hello"}),
    ("data info on a zero-byte store", ["data", "info", "{dir}/empty.db"], {"empty.db": b""}),
    ("init of an unknown example", ["init", "al-vasp", "--out", "{dir}/x.toml"], None),
    ("init over an existing file", ["init", "al-emt", "--out", "{dir}/x.toml"], {"x.toml": "mine"}),
    ("report of a missing folder", ["report", "{dir}/nope"], None),
]

DAMAGED_RUN = [  # (input, damage of a copy of a finished run, command)
    ("store truncated", lambda r: (r / "store.db").write_bytes((r / "store.db").read_bytes()[:20000]), "run"),
    ("store garbled", lambda r: _garble(r / "store.db"), "run"),
    ("store zero bytes", lambda r: (r / "store.db").write_bytes(b""), "run"),
    ("store zero bytes", lambda r: (r / "store.db").write_bytes(b""), "status"),
    ("selection.json truncated", lambda r: _truncate(r / "iter.000000" / "selection.json", 100), "status"),
    ("selection.json truncated", lambda r: _truncate(r / "iter.000000" / "selection.json", 100), "run"),
    ("model truncated", lambda r: _truncate(r / "iter.000000" / "model.pt", 3000), "check"),
    ("state.json truncated", lambda r: _truncate(r / "state.json", 10), "status"),
    ("export into a missing folder", lambda r: None, "export"),
]


def _garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 3: len(data) // 3 + 3000] = b"x" * 3000
    path.write_bytes(bytes(data))


def _truncate(path: Path, size: int) -> None:
    path.write_bytes(path.read_bytes()[:size])


def _invoke(args: list[str], timeout: float = 120.0) -> tuple[int | str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "COLUMNS": "400"}
    try:
        proc = subprocess.run([*PESGEN, *args], capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return "timeout", "(still running: the input was accepted)"
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def inputs(run: Path | None) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="pesgen-faults-") as tmp:
        cases = [(name, _edit(old, new)) for name, old, new in BAD_CONFIGS]
        cases += [(name, _files(cmd, files)) for name, cmd, files in BAD_COMMANDS]
        for k, (name, make) in enumerate(cases):
            folder = Path(tmp) / f"case{k}"
            folder.mkdir()
            rows.append(_row(name, *_invoke(make(folder))))
            print(_line(rows[-1]), flush=True)
        for k, (name, damage, command) in enumerate(DAMAGED_RUN if run is not None else []):
            copy = Path(tmp) / f"run{k}"
            shutil.copytree(run, copy)
            damage(copy)
            args = {"run": ["run", str(copy), "--quiet"], "status": ["status", str(copy)],
                    "check": ["check", str(copy)],
                    "export": ["export", str(copy), "--model", f"{tmp}/no/such/dir/x.pt"]}[command]
            rows.append(_row(f"{name} ({command})", *_invoke(args)))
            print(_line(rows[-1]), flush=True)
    return rows


def _row(name: str, code: int | str, output: str) -> dict:
    kind = "warning:" if code == 0 else "error:"  # `pesgen status` of a damaged store: the table and a warning
    errors = [line for line in output.splitlines() if line.startswith(kind)]
    message = errors[0] if errors else (output.splitlines()[-1] if output else "")
    one_line = len(errors) == 1 and "Traceback" not in output
    return {"input": name, "exit": code, "one_line": one_line, "message": message}


def _line(row: dict) -> str:
    return f"| {row['input']} | {row['exit']} | {'yes' if row['one_line'] else 'NO'} | {row['message'][:160]} |"


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    k = sub.add_parser("kills")
    k.add_argument("--kills", type=int, default=20)
    k.add_argument("--max-iterations", type=int, default=None, help="fewer iterations than the example's 20")
    k.add_argument("--delay", type=float, default=0.2, help="s added to every label")
    k.add_argument("--seed", type=int, default=0)
    k.add_argument("--label-kills", type=int, default=4, help="kills drawn within labeling steps")
    k.add_argument("--work", type=Path, default=None)
    i = sub.add_parser("inputs")
    i.add_argument("--run", type=Path, default=None, help="a finished run directory to damage copies of")
    args = parser.parse_args(argv)
    if args.what == "kills":
        work = args.work or Path(tempfile.mkdtemp(prefix="pesgen-kills-"))
        result = kills(args.kills, args.max_iterations, args.delay, args.seed, work, args.label_kills)
        print(json.dumps({k: v for k, v in result.items() if k != "kills"}, indent=1))
        (work / "result.json").write_text(json.dumps(result, indent=1))
    else:
        rows = inputs(args.run)
        print("\n| input | exit | one line | message |\n|---|---|---|---|")
        for row in rows:
            print(_line(row))
        print(f"\n{len(rows)} inputs, {sum(r['one_line'] for r in rows)} one-line errors, exit status "
              f"{sorted({str(r['exit']) for r in rows})}")


if __name__ == "__main__":
    main()
