"""Deviation records: one compact, crash-safe, columnar file per exploration iteration.

Every recorded MD frame has one row: walker, system id, step, time, target and instantaneous
temperature and pressure, and the model deviations (eq. 1 of the paper and its siblings). The
atoms of a frame (positions, cell, species, pbc) are stored only when the frame may be selected
for labeling, i.e. when ``max_devi_f >= keep_above``; so the record of *everything* explored stays
complete while disk use stays small.

Format: one SQLite file (Python's standard library; no extra dependency). Why SQLite:

* crash safety is the database's job: every :meth:`RecordWriter.append` is one transaction, so
  a writer killed at any instant (SIGKILL included) leaves all previously appended chunks
  readable; a half-written chunk is rolled back by the next open (rollback journal). HDF5
  offers no such guarantee for a killed writer (a file can be left unreadable), and an
  append-only binary plus index would re-implement a journal;
* it is one file (``journal_mode=DELETE``: the transient ``-journal`` file exists only inside a
  transaction), readable with any SQLite tool;
* it stays columnar and compact: each appended chunk stores each column as one
  zlib-compressed little-endian array blob (table ``columns``), so reading one column reads
  only its blobs, and the system id strings are dictionary-encoded (table ``systems``).

Measured size (tests/explore/test_records.py, docs/exploration.md): 34.7 MB per million
frames for the 15 standard columns with chunks of 20,000 rows (raw, uncompressed: 68 bytes per
frame); kept frames add 8 bytes per atom coordinate plus ~300 bytes each (32 atoms: 1,058 B).

Standard columns (all required; units in :data:`STANDARD_COLUMNS`). Extra numeric columns are
allowed; the first chunk fixes the set of columns and every later chunk must repeat it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from pesgen.explore.errors import RecordError

FORMAT = "pesgen-deviation-record"
FORMAT_VERSION = 1

#: Standard columns: name -> (storage dtype, unit / meaning).
STANDARD_COLUMNS: dict[str, tuple[str, str]] = {
    "walker": ("<i4", "walker index within the iteration"),
    "system": ("str", "system id (info['system'] of the walker's initial structure)"),
    "step": ("<i8", "MD step"),
    "time": ("<f8", "simulated time, fs"),
    "temperature_target": ("<f4", "target temperature, K"),
    "temperature": ("<f4", "instantaneous temperature, K"),
    "pressure_target": ("<f4", "target pressure, bar (NaN when not NPT)"),
    "pressure": ("<f4", "instantaneous pressure, bar"),
    "max_devi_f": ("<f4", "max over atoms of the force deviation, eV/Å"),
    "min_devi_f": ("<f4", "min over atoms of the force deviation, eV/Å"),
    "avg_devi_f": ("<f4", "mean over atoms of the force deviation, eV/Å"),
    "devi_e": ("<f4", "energy deviation, eV/atom"),
    "max_devi_v": ("<f4", "max of the virial deviation, eV/atom"),
    "min_devi_v": ("<f4", "min of the virial deviation, eV/atom"),
    "avg_devi_v": ("<f4", "mean of the virial deviation, eV/atom"),
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS systems (code INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS chunks (
    chunk INTEGER PRIMARY KEY, row0 INTEGER NOT NULL, nrows INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS columns (
    chunk INTEGER NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (chunk, name));
CREATE TABLE IF NOT EXISTS frames (
    row INTEGER PRIMARY KEY, numbers BLOB NOT NULL, positions BLOB NOT NULL,
    cell BLOB NOT NULL, pbc INTEGER NOT NULL);
"""


#: SQLite ``synchronous`` levels accepted by :class:`RecordWriter` (``sync=``).
SYNC_LEVELS = ("full", "normal", "off")


def _connect(path: Path, sync: str = "normal") -> sqlite3.Connection:
    con = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
    con.execute("PRAGMA journal_mode=DELETE")
    con.execute(f"PRAGMA synchronous={sync.upper()}")
    return con


def _encode(arr: np.ndarray) -> bytes:
    return zlib.compress(np.ascontiguousarray(arr).tobytes(), 1)


def _decode(blob: bytes, dtype: str) -> np.ndarray:
    return np.frombuffer(zlib.decompress(blob), dtype=np.dtype(dtype))


class RecordWriter:
    """Writes a deviation record incrementally; each :meth:`append` is flushed atomically.

    Args:
        path: the record file (one per iteration), e.g. ``iter.000003/explore/record.sqlite``.
        keep_above: frames with ``max_devi_f >= keep_above`` (eV/Å) keep their atoms; set it at
            or below the lowest level the selection may use (the lower trust level, or 0 with
            the adaptive lower level, which can reach any frame below the upper level).
        meta: JSON-serialisable description stored with the record (iteration, conditions...).
        mode: "x" create, refuse an existing file (default: never lose a record); "w" replace
            an existing file; "a" append to an existing record (same keep_above and columns).
        sync: SQLite's ``synchronous`` level. Every level keeps committed chunks when the
            writer *process* dies (SIGKILL included); "normal" (default) and "full" also
            survive most OS crashes / power losses at the cost of fsyncs (measured for 1000
            appends of 1000 rows: off 2.3 s, normal 10 s, full 22 s on the CI machine), so
            append in chunks of thousands of rows.

    Example::

        with RecordWriter(path, keep_above=0.05) as w:
            w.append({"walker": ..., "system": ..., "max_devi_f": ..., ...}, frames)
    """

    def __init__(self, path: str | os.PathLike, keep_above: float, meta: Mapping | None = None, mode: str = "x",
                 sync: str = "normal") -> None:
        self.path = Path(path)
        if mode not in ("x", "w", "a"):
            raise RecordError(f"{self.path}: mode {mode!r} must be 'x', 'w' or 'a'")
        if sync not in SYNC_LEVELS:
            raise RecordError(f"{self.path}: sync {sync!r} must be one of {SYNC_LEVELS}")
        keep_above = float(keep_above)
        if np.isnan(keep_above):
            raise RecordError(f"{self.path}: keep_above must be a number (eV/Å), not NaN")
        self.keep_above = keep_above
        exists = self.path.exists()
        if exists and mode == "x":
            raise RecordError(f"{self.path} exists; refusing to overwrite a deviation record (use mode='w' to "
                              f"replace it or mode='a' to append)")
        if not exists and mode == "a":
            raise RecordError(f"{self.path}: cannot append, the record does not exist")
        if exists and mode == "w":
            self.path.unlink()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con: sqlite3.Connection | None = _connect(self.path, sync)
        self._schema: dict[str, str] | None = None
        self._systems: dict[str, int] = {}
        self.n_rows = 0
        self.n_kept = 0
        self._next_chunk = 0
        try:
            if exists and mode == "a":
                self._load_existing()
            else:
                self._con.executescript(_SCHEMA)
                self._put_meta({"format": FORMAT, "version": FORMAT_VERSION,
                                "keep_above": keep_above, "meta": dict(meta or {})})
        except Exception:
            self._con.close()
            self._con = None
            raise

    def _put_meta(self, items: Mapping) -> None:
        assert self._con is not None
        try:
            rows = [(k, json.dumps(v)) for k, v in items.items()]
        except TypeError as exc:
            raise RecordError(f"{self.path}: meta is not JSON-serialisable: {exc}") from exc
        self._con.execute("BEGIN IMMEDIATE")
        self._con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows)
        self._con.execute("COMMIT")

    def _load_existing(self) -> None:
        rec = _read_header(self._con, self.path)  # type: ignore[arg-type]
        if rec["keep_above"] != self.keep_above:
            raise RecordError(f"{self.path}: appending with keep_above={self.keep_above} to a record written "
                              f"with keep_above={rec['keep_above']}")
        self._schema = rec.get("schema")
        self._systems = {name: code for code, name in rec["systems"].items()}
        self.n_rows = rec["n_rows"]
        self.n_kept = rec["n_kept"]
        self._next_chunk = rec["next_chunk"]

    # ------------------------------------------------------------------ validation
    def _prepare(self, columns: Mapping[str, object]) -> tuple[int, dict[str, np.ndarray]]:
        if not isinstance(columns, Mapping):
            raise RecordError(f"{self.path}: columns must be a dict of arrays")
        missing = [k for k in STANDARD_COLUMNS if k not in columns]
        if missing:
            raise RecordError(f"{self.path}: missing column(s) {', '.join(missing)}")
        lengths = {k: len(np.atleast_1d(np.asarray(v))) for k, v in columns.items()}
        if len(set(lengths.values())) != 1:
            raise RecordError(f"{self.path}: columns differ in length: {lengths}")
        n = next(iter(lengths.values()))
        out: dict[str, np.ndarray] = {}
        for name, value in columns.items():
            arr = np.atleast_1d(np.asarray(value))
            if arr.ndim != 1:
                raise RecordError(f"{self.path}: column {name!r} must be one-dimensional")
            if name == "system":
                if arr.dtype.kind not in "US":
                    raise RecordError(f"{self.path}: column 'system' must hold strings")
                out[name] = arr.astype(str)
                continue
            if arr.dtype.kind not in "biuf":
                raise RecordError(f"{self.path}: column {name!r} is not numeric ({arr.dtype})")
            dtype = STANDARD_COLUMNS[name][0] if name in STANDARD_COLUMNS else (
                "<f8" if arr.dtype.kind == "f" else "<i8" if arr.dtype.kind in "iu" else "|u1")
            if np.dtype(dtype).kind in "iu" and arr.dtype.kind == "f":
                if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                    raise RecordError(f"{self.path}: column {name!r} must hold integers")
            out[name] = arr.astype(dtype)
        schema = {k: ("str" if k == "system" else out[k].dtype.str) for k in out}
        if self._schema is None:
            self._schema = schema
        elif set(schema) != set(self._schema):
            raise RecordError(f"{self.path}: columns {sorted(schema)} differ from the record's {sorted(self._schema)}")
        return n, out

    # ------------------------------------------------------------------ writing
    def append(self, columns: Mapping[str, object], frames: Sequence[Atoms | None] | None = None) -> None:
        """Append one chunk of rows and the atoms of the frames that may be selected.

        Args:
            columns: column name -> 1-D array, all of one length n (see
                :data:`STANDARD_COLUMNS`).
            frames: None, or n entries; entry i must be an ``ase.Atoms`` when
                ``max_devi_f[i] >= keep_above`` (None is allowed below it; frames below it are
                not stored).

        Raises:
            RecordError: bad columns or a missing frame; nothing of the chunk is written then.
        """
        if self._con is None:
            raise RecordError(f"{self.path}: the writer is closed")
        n, cols = self._prepare(columns)
        if n == 0:
            return
        devi = cols["max_devi_f"].astype(np.float64)
        keep = np.flatnonzero(devi >= self.keep_above)
        if frames is not None and len(frames) != n:
            raise RecordError(f"{self.path}: {len(frames)} frames for {n} rows")
        frame_rows = []
        for i in keep:
            atoms = None if frames is None else frames[i]
            if atoms is None:
                raise RecordError(f"{self.path}: row {i} of this chunk has max_devi_f={devi[i]:.4g} >= "
                                  f"keep_above={self.keep_above} but no frame was given")
            if not isinstance(atoms, Atoms):
                raise RecordError(f"{self.path}: frame {i} is a {type(atoms).__name__}, not Atoms")
            numbers = np.asarray(atoms.numbers)
            frame_rows.append((
                self.n_rows + int(i),
                _encode(numbers.astype("<u1")),
                _encode(np.asarray(atoms.positions, dtype="<f8")),
                _encode(np.asarray(atoms.cell.array, dtype="<f8")),
                int(sum(int(bool(p)) << k for k, p in enumerate(atoms.pbc))),
            ))
        new_systems = []
        for name in dict.fromkeys(cols["system"].tolist()):
            if name not in self._systems:
                new_systems.append((len(self._systems) + len(new_systems), name))
        codes = {**self._systems, **{name: code for code, name in new_systems}}
        cols["system"] = np.array([codes[s] for s in cols["system"].tolist()], dtype="<i4")

        con = self._con
        chunk = self._next_chunk
        try:
            con.execute("BEGIN IMMEDIATE")
            if chunk == 0:
                con.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)",
                            (json.dumps(self._schema),))
            con.executemany("INSERT INTO systems VALUES (?, ?)", new_systems)
            con.execute("INSERT INTO chunks VALUES (?, ?, ?)", (chunk, self.n_rows, n))
            con.executemany("INSERT INTO columns VALUES (?, ?, ?)",
                            [(chunk, k, _encode(v)) for k, v in cols.items()])
            con.executemany("INSERT INTO frames VALUES (?, ?, ?, ?, ?)", frame_rows)
            con.execute("COMMIT")
        except Exception as exc:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise RecordError(f"{self.path}: could not append chunk {chunk}: {exc}") from exc
        self._systems = codes
        self._next_chunk += 1
        self.n_rows += n
        self.n_kept += len(frame_rows)

    def close(self) -> None:
        """Close the file (everything appended is already on disk)."""
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_header(con: sqlite3.Connection, path: Path) -> dict:
    try:
        meta = {k: json.loads(v) for k, v in con.execute("SELECT key, value FROM meta")}
    except sqlite3.DatabaseError as exc:
        raise RecordError(f"{path}: not a pesgen deviation record ({exc})") from exc
    if meta.get("format") != FORMAT:
        raise RecordError(f"{path}: not a pesgen deviation record (format {meta.get('format')!r})")
    if meta.get("version") != FORMAT_VERSION:
        raise RecordError(f"{path}: record version {meta.get('version')} is not supported")
    systems = dict(con.execute("SELECT code, name FROM systems"))
    n_rows, n_chunks = con.execute("SELECT COALESCE(SUM(nrows), 0), COALESCE(MAX(chunk) + 1, 0) "
                                   "FROM chunks").fetchone()
    n_kept = con.execute("SELECT COUNT(*) FROM frames").fetchone()[0]
    return {**meta, "systems": systems, "n_rows": int(n_rows), "n_kept": int(n_kept),
            "next_chunk": int(n_chunks)}


@dataclass
class Record:
    """A deviation record read back (see :func:`read_record`).

    Attributes:
        path: the file.
        columns: column name -> numpy array over all rows ("system" as strings).
        keep_above: the level (eV/Å) above which frames were kept.
        kept_rows: sorted row indices whose frames are stored.
        meta: the writer's ``meta``.
    """

    path: Path
    columns: dict[str, np.ndarray]
    keep_above: float
    kept_rows: np.ndarray
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.columns["max_devi_f"])

    def has_frame(self, row: int) -> bool:
        """True when the atoms of ``row`` are stored."""
        i = np.searchsorted(self.kept_rows, row)
        return bool(i < len(self.kept_rows) and self.kept_rows[i] == row)

    def frames(self, rows: Sequence[int] | np.ndarray) -> list[Atoms]:
        """The atoms of ``rows`` (see :meth:`frame`), read in one pass."""
        rows = [int(r) for r in rows]
        for r in rows:
            if not 0 <= r < len(self):
                raise RecordError(f"{self.path}: row {r} out of range (0..{len(self) - 1})")
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            found = {}
            for start in range(0, len(rows), 500):
                part = rows[start:start + 500]
                q = ("SELECT row, numbers, positions, cell, pbc FROM frames WHERE row IN "
                     f"({','.join('?' * len(part))})")
                for r, *blobs in con.execute(q, part):
                    found[r] = blobs
        finally:
            con.close()
        out = []
        for r in rows:
            if r not in found:
                raise RecordError(f"{self.path}: row {r} has no stored frame (max_devi_f="
                                  f"{self.columns['max_devi_f'][r]:.4g} < keep_above={self.keep_above})")
            numbers, positions, cell, pbc = found[r]
            atoms = Atoms(numbers=_decode(numbers, "<u1").astype(int),
                          positions=_decode(positions, "<f8").reshape(-1, 3),
                          cell=_decode(cell, "<f8").reshape(3, 3), pbc=[bool(pbc >> k & 1) for k in range(3)])
            atoms.info["record_row"] = r
            for name in ("system", "walker", "step", "time", "temperature_target",
                         "pressure_target", "max_devi_f"):
                value = self.columns[name][r]
                atoms.info[name] = value.item() if hasattr(value, "item") else value
            out.append(atoms)
        return out

    def frame(self, row: int) -> Atoms:
        """The atoms of one row, with ``info`` holding its system, walker, step, time (fs),
        target temperature (K) and pressure (bar), max_devi_f (eV/Å) and ``record_row``.

        Raises:
            RecordError: the row is out of range or its frame was not kept.
        """
        return self.frames([row])[0]


def read_record(path: str | os.PathLike, columns: Sequence[str] | None = None) -> Record:
    """Read a deviation record (all rows; only ``columns`` plus max_devi_f and system if given).

    A record whose writer was killed reads up to its last completed :meth:`RecordWriter.append`.

    Raises:
        RecordError: missing file, not a record, or an unknown column name.
    """
    path = Path(path)
    if not path.is_file():
        raise RecordError(f"{path}: no such deviation record")
    # a normal (read-write) connection so that SQLite can roll back a killed writer's journal
    con = sqlite3.connect(str(path), timeout=30.0)
    try:
        header = _read_header(con, path)
        schema: dict[str, str] = header.get("schema") or {
            k: ("str" if k == "system" else v[0]) for k, v in STANDARD_COLUMNS.items()}
        wanted = list(schema) if columns is None else list(dict.fromkeys([*columns, "max_devi_f", "system"]))
        unknown = [c for c in wanted if c not in schema]
        if unknown:
            raise RecordError(f"{path}: unknown column(s) {unknown}; has {sorted(schema)}")
        parts: dict[str, list[np.ndarray]] = {c: [] for c in wanted}
        q = (f"SELECT name, data FROM columns WHERE name IN ({','.join('?' * len(wanted))}) "
             "ORDER BY chunk")
        for name, blob in con.execute(q, wanted):
            parts[name].append(_decode(blob, "<i4" if name == "system" else schema[name]))
        cols = {c: (np.concatenate(p) if p else np.zeros(0, "<i4" if c == "system" else schema[c]))
                for c, p in parts.items()}
        names = header["systems"]
        lookup = np.array([names.get(i, "") for i in range(max(names, default=-1) + 1)],
                          dtype=str)
        cols["system"] = lookup[cols["system"]] if len(cols["system"]) else np.zeros(0, str)
        kept = np.array([r for (r,) in con.execute("SELECT row FROM frames ORDER BY row")],
                        dtype=np.int64)
    except sqlite3.DatabaseError as exc:
        raise RecordError(f"{path}: cannot read deviation record: {exc}") from exc
    finally:
        con.close()
    return Record(path=path, columns=cols, keep_above=float(header["keep_above"]),
                  kept_rows=kept, meta=header.get("meta", {}))
