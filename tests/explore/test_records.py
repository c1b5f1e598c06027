"""Deviation records: round trip, frames kept by level, errors, crash safety, size on disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from ase.build import bulk

from pesgen.explore.errors import RecordError
from pesgen.explore.records import STANDARD_COLUMNS, RecordWriter, read_record


def make_columns(rng, row0, n, n_walkers=16, systems=("Al-fcc-2x2x2", "Mg-hcp-2x2x2")):
    """Synthetic MD-like rows: walkers interleaved, steps increasing, lognormal deviations."""
    idx = np.arange(row0, row0 + n)
    walker = idx % n_walkers
    step = (idx // n_walkers) * 10
    f = rng.lognormal(np.log(0.05), 0.8, n)
    return {
        "walker": walker,
        "system": np.array([systems[w % len(systems)] for w in walker]),
        "step": step,
        "time": step * 2.0,
        "temperature_target": np.full(n, 300.0),
        "temperature": rng.normal(300.0, 30.0, n),
        "pressure_target": np.full(n, np.nan),
        "pressure": rng.normal(0.0, 5000.0, n),
        "max_devi_f": f,
        "min_devi_f": 0.1 * f,
        "avg_devi_f": 0.4 * f,
        "devi_e": 0.01 * f,
        "max_devi_v": 0.02 * f,
        "min_devi_v": 0.001 * f,
        "avg_devi_v": 0.01 * f,
    }


def make_frames(rng, cols, keep_above, template):
    out = []
    for k, f in enumerate(cols["max_devi_f"]):
        if f >= keep_above:
            a = template.copy()
            a.positions += rng.normal(0.0, 0.1, a.positions.shape)
            a.info["tag"] = int(cols["step"][k])
            out.append(a)
        else:
            out.append(None)
    return out


def test_round_trip_columns_frames_and_info(tmp_path):
    rng = np.random.default_rng(0)
    template = bulk("Al", "fcc", a=4.05, cubic=True).repeat(2)
    template.numbers[:5] = 12
    template.pbc = [True, True, False]
    path = tmp_path / "record.sqlite"
    chunks, frames = [], []
    with RecordWriter(path, keep_above=0.1, meta={"iteration": 3}) as w:
        for c in range(4):
            cols = make_columns(rng, c * 500, 500)
            fr = make_frames(rng, cols, 0.1, template)
            w.append(cols, fr)
            chunks.append(cols)
            frames.extend(fr)
        assert w.n_rows == 2000
    rec = read_record(path)
    assert len(rec) == 2000 and rec.meta == {"iteration": 3} and rec.keep_above == 0.1
    for name, (dtype, _) in STANDARD_COLUMNS.items():
        expected = np.concatenate([c[name] for c in chunks])
        if name == "system":
            np.testing.assert_array_equal(rec.columns[name], expected)
        else:
            assert rec.columns[name].dtype == np.dtype(dtype)
            np.testing.assert_array_equal(rec.columns[name], expected.astype(dtype))
    expected_kept = np.flatnonzero(rec.columns["max_devi_f"] >= np.float32(0.1))
    np.testing.assert_array_equal(rec.kept_rows, expected_kept)
    assert 0 < len(expected_kept) < 2000
    for row in expected_kept[:: max(1, len(expected_kept) // 20)]:
        atoms = rec.frame(int(row))
        ref = frames[row]
        np.testing.assert_array_equal(atoms.positions, ref.positions)  # float64, exact
        np.testing.assert_array_equal(atoms.cell.array, ref.cell.array)
        np.testing.assert_array_equal(atoms.numbers, ref.numbers)
        np.testing.assert_array_equal(atoms.pbc, ref.pbc)
        assert atoms.info["system"] == rec.columns["system"][row]
        assert atoms.info["step"] == rec.columns["step"][row]
        assert atoms.info["record_row"] == row
    below = int(np.flatnonzero(rec.columns["max_devi_f"] < 0.1)[0])
    assert not rec.has_frame(below)
    with pytest.raises(RecordError, match="no stored frame"):
        rec.frame(below)
    with pytest.raises(RecordError, match="out of range"):
        rec.frame(2000)
    only = read_record(path, columns=["step"])
    assert set(only.columns) == {"step", "max_devi_f", "system"}


def test_extra_columns_and_append_mode(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "r.sqlite"
    cols = make_columns(rng, 0, 10)
    cols["potential_energy"] = rng.normal(size=10)
    with RecordWriter(path, keep_above=np.inf) as w:
        w.append(cols)
    with RecordWriter(path, keep_above=np.inf, mode="a") as w:
        cols2 = make_columns(rng, 10, 5, systems=("new-system",))
        cols2["potential_energy"] = np.zeros(5)
        w.append(cols2)
    rec = read_record(path)
    assert len(rec) == 15
    np.testing.assert_array_equal(rec.columns["potential_energy"][:10], cols["potential_energy"])
    assert list(rec.columns["system"][10:]) == ["new-system"] * 5
    with pytest.raises(RecordError, match="keep_above"):
        RecordWriter(path, keep_above=0.2, mode="a")


def test_bad_input_is_rejected_and_loses_nothing(tmp_path):
    rng = np.random.default_rng(2)
    path = tmp_path / "r.sqlite"
    w = RecordWriter(path, keep_above=0.05)
    good = make_columns(rng, 0, 50)
    w.append(good, make_frames(rng, good, 0.05, bulk("Al", cubic=True)))
    bad = make_columns(rng, 50, 50)
    del bad["pressure"]
    with pytest.raises(RecordError, match="missing column.*pressure"):
        w.append(bad)
    short = make_columns(rng, 50, 50)
    short["step"] = short["step"][:10]
    with pytest.raises(RecordError, match="differ in length"):
        w.append(short)
    no_frames = make_columns(rng, 50, 50)
    with pytest.raises(RecordError, match="no frame was given"):
        w.append(no_frames, [None] * 50)
    extra = make_columns(rng, 50, 50)
    extra["surprise"] = np.zeros(50)
    with pytest.raises(RecordError, match="differ from the record"):
        w.append(extra)
    frac_step = make_columns(rng, 50, 50)
    frac_step["step"] = frac_step["step"] + 0.5
    with pytest.raises(RecordError, match="integers"):
        w.append(frac_step)
    w.close()
    with pytest.raises(RecordError, match="closed"):
        w.append(good)
    rec = read_record(path)
    assert len(rec) == 50
    np.testing.assert_array_equal(rec.columns["step"], good["step"])
    with pytest.raises(RecordError, match="refusing to overwrite"):
        RecordWriter(path, keep_above=0.05)
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(RecordError, match="junk.sqlite"):
        read_record(tmp_path / "junk.sqlite")
    with pytest.raises(RecordError, match="no such"):
        read_record(tmp_path / "missing.sqlite")


_WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    sys.path.insert(0, {tests!r})
    from test_records import make_columns, make_frames
    from ase.build import bulk
    from pesgen.explore.records import RecordWriter
    rng = np.random.default_rng(7)
    template = bulk("Al", "fcc", a=4.05, cubic=True).repeat(2)
    w = RecordWriter({path!r}, keep_above=0.08, sync="off")
    k = 0
    while True:
        cols = make_columns(rng, k * 2000, 2000)
        w.append(cols, make_frames(rng, cols, 0.08, template))
        k += 1
        print(k, flush=True)
    """
)


def test_sigkill_while_writing_leaves_flushed_chunks_readable(tmp_path):
    path = tmp_path / "killed.sqlite"
    code = _WRITER.format(tests=os.path.dirname(__file__), path=str(path))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    flushed = 0
    deadline = time.time() + 60
    try:
        while flushed < 5 and time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            flushed = int(line)
        time.sleep(0.05)  # kill while the next chunks are being written
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert flushed >= 5, "writer did not start"
    assert proc.returncode == -signal.SIGKILL
    rec = read_record(path)
    n = len(rec)
    assert n % 2000 == 0 and n >= flushed * 2000
    # contents are exactly what the writer produced, chunk by chunk
    rng = np.random.default_rng(7)
    template = bulk("Al", "fcc", a=4.05, cubic=True).repeat(2)
    for k in range(n // 2000):
        cols = make_columns(rng, k * 2000, 2000)
        make_frames(rng, cols, 0.08, template)
        np.testing.assert_array_equal(rec.columns["step"][k * 2000:(k + 1) * 2000], cols["step"])
        np.testing.assert_array_equal(rec.columns["max_devi_f"][k * 2000:(k + 1) * 2000],
                                      cols["max_devi_f"].astype(np.float32))
    last = int(rec.kept_rows[-1])
    assert rec.frame(last).info["record_row"] == last
    assert not (tmp_path / "killed.sqlite-journal").exists()  # rolled back on open
    # the file takes further appends after the crash
    with RecordWriter(path, keep_above=0.08, mode="a") as w:
        more = make_columns(rng, n, 100)
        w.append(more, make_frames(rng, more, 0.08, template))
    assert len(read_record(path)) == n + 100


@pytest.mark.slow
def test_size_on_disk_per_million_frames(tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "big.sqlite"
    n_total, chunk = 1_000_000, 20_000
    systems = tuple(f"Al-fcc-2x2x2:Al24Mg8:alpha={a:.4f}" for a in np.linspace(0.96, 1.04, 5))
    t0 = time.perf_counter()
    with RecordWriter(path, keep_above=np.inf) as w:
        for r0 in range(0, n_total, chunk):
            w.append(make_columns(rng, r0, chunk, n_walkers=256, systems=systems))
    elapsed = time.perf_counter() - t0
    size = path.stat().st_size
    print(f"\n1e6 rows, no frames: {size / 1e6:.1f} MB, write {elapsed:.1f} s")
    assert size < 45e6  # raw columns would take 68 MB
    t0 = time.perf_counter()
    rec = read_record(path)
    print(f"read all columns: {time.perf_counter() - t0:.2f} s")
    assert len(rec) == n_total
    # frames: realistic (disordered) positions cost ~8 bytes per coordinate
    path2 = tmp_path / "frames.sqlite"
    template = bulk("Al", "fcc", a=4.05, cubic=True).repeat(2)  # 32 atoms
    cols = make_columns(rng, 0, 1000)
    cols["max_devi_f"][:] = 1.0
    with RecordWriter(path2, keep_above=0.5) as w:
        w.append(cols, make_frames(rng, cols, 0.5, template))
    per_frame = (path2.stat().st_size - 40_000) / 1000
    print(f"kept 32-atom frame: {per_frame:.0f} bytes")
    assert per_frame < 32 * 3 * 8 + 400  # positions float64 + blobs + row overhead
