"""The labeled-frame store: an SQLite database written through ``ase.db``.

Each labeled frame is one ase.db row: positions, cell, pbc, species, energy (eV), forces (eV/Å),
stress (eV/Å^3, ASE sign and Voigt order xx yy zz yz xz xy) when the labeler gives one, and its
provenance as key-value pairs. Failed labels are rows without energy and forces, with
``failed=True`` and ``failed_reason``; they are never returned as training data.

Users can browse a store with ASE's own tools, e.g. ``ase db store.db origin=explored``.

Writes are transactions (one per :meth:`Store.add` / :meth:`Store.add_failed` call, one for a whole
:meth:`Store.add_many` batch): a process killed at any instant leaves every frame fully in or
absent. The database is switched to SQLite's write-ahead log (WAL) mode, so readers in other
processes read a consistent snapshot while a writer appends. WAL needs a local file system (not
NFS); pass ``wal=False`` there, which keeps the default rollback journal (still atomic, but a
reader then waits while a writer commits). Every operation opens and closes its own connection,
and the store never opens the file outside SQLite: closing any descriptor of the file cancels
the POSIX locks of the process's open connections, after which a writer elsewhere can delete
the -wal/-shm files they still use (readers then see "database disk image is malformed").
Read-only stores use ``mode=ro`` (never ``immutable``: the file changes while they read); they
need write permission on the folder, to create the -wal/-shm files when no writer has them.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.db.sqlite import VERSION as ASE_DB_VERSION
from ase.db.sqlite import SQLite3Database
from ase.stress import full_3x3_to_voigt_6_stress

from pesgen.data.errors import StoreError
from pesgen.data.provenance import (
    Provenance,
    check_provenance,
    decode_text,
    encode_text,
    from_key_value_pairs,
    to_key_value_pairs,
)

__all__ = ["Store", "Provenance", "StoreError", "STORE_FILE", "STORE_FORMAT_VERSION", "store_file"]

STORE_FORMAT_VERSION = 1
#: the store's file name in a folder that holds one (a run directory)
STORE_FILE = "store.db"


def store_file(path: str | Path) -> Path:
    """``path`` itself, or the store of the folder ``path`` (a run directory: ``RUN/store.db``)."""
    path = Path(path)
    return path / STORE_FILE if path.is_dir() else path


_COLUMNS = "id, numbers, positions, cell, pbc, energy, forces, stress, key_value_pairs"
_FAILED_SQL = "id IN (SELECT id FROM number_key_values WHERE key='failed' AND value=1)"
_LABELED_SQL = f"energy IS NOT NULL AND forces IS NOT NULL AND NOT {_FAILED_SQL}"


class _StoreDatabase(SQLite3Database):
    """ase.db's SQLite back end with a read-only mode, a longer busy timeout, and no automatic
    commit every 5000 writes (so that one ``with db:`` block is exactly one transaction)."""

    def __init__(self, filename: str, readonly: bool, timeout: float) -> None:
        super().__init__(filename, create_indices=True, use_lock_file=False, serial=True)
        self._readonly = readonly
        self._timeout = timeout

    def _connect(self) -> sqlite3.Connection:
        if self._readonly:
            uri = Path(self.filename).resolve().as_uri() + "?mode=ro"
            return sqlite3.connect(uri, uri=True, timeout=self._timeout)
        return sqlite3.connect(self.filename, timeout=self._timeout)

    @contextmanager
    def managed_connection(self, commit_frequency: int = 5000) -> Iterator[sqlite3.Connection]:
        if self.connection is not None:  # inside ``with db:``: that transaction's connection
            self._initialize(self.connection)
            yield self.connection
            return
        # ase's own version leaves this connection to the garbage collector (a reference cycle
        # keeps it open); an open connection whose file locks another open()/close() of the file
        # in this process cancels lets a writer elsewhere delete the -wal/-shm files under it, and
        # this process's readers then read torn pages ("database disk image is malformed").
        con = self._connect()
        try:
            self._initialize(con)
            yield con
            con.commit()
        finally:
            con.close()


def _as_voigt_stress(stress: Any, where: str) -> np.ndarray:
    arr = np.asarray(stress, dtype=float)
    if arr.shape == (3, 3):
        if not np.allclose(arr, arr.T, rtol=1e-8, atol=1e-10):
            raise StoreError(f"{where}: the 3x3 stress is not symmetric")
        arr = full_3x3_to_voigt_6_stress(arr)
    if arr.shape != (6,):
        raise StoreError(f"{where}: stress must have shape (6,) or (3, 3), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise StoreError(f"{where}: stress has non-finite values")
    return arr


def _clean_atoms(atoms: Any, where: str) -> Atoms:
    """A bare copy (species, positions, cell, pbc) of ``atoms``, checked."""
    if not isinstance(atoms, Atoms):
        raise StoreError(f"{where}: expected ase.Atoms, got {type(atoms).__name__}")
    if len(atoms) == 0:
        raise StoreError(f"{where}: the structure has no atoms")
    positions = np.array(atoms.get_positions(), dtype=float)
    cell = np.array(atoms.get_cell(), dtype=float)
    if not (np.all(np.isfinite(positions)) and np.all(np.isfinite(cell))):
        raise StoreError(f"{where}: positions or cell have non-finite values")
    return Atoms(numbers=atoms.get_atomic_numbers(), positions=positions, cell=cell,
                 pbc=atoms.get_pbc())


def _describe(prov: Provenance, index: int | None) -> str:
    parts = [] if index is None else [f"frame {index}"]
    if prov.task_id is not None:
        parts.append(f"task_id={prov.task_id!r}")
    if prov.system:
        parts.append(f"system={prov.system!r}")
    return "frame" if not parts else " ".join(parts)


class Store:
    """A labeled-frame store in one SQLite file (an ase.db database).

    Args:
        path: the store file (created if missing, unless ``readonly``).
        readonly: open without write access; a missing file is then an error.
        wal: switch the database to WAL journal mode (concurrent readers while a writer appends).
            Use ``False`` on network file systems.
        timeout: seconds to wait for a lock held by another writer before giving up.

    Raises:
        StoreError: the file is missing (``readonly``), not an SQLite database, corrupt, or an
            SQLite database that is not an ase.db store.
    """

    def __init__(self, path: str | Path, readonly: bool = False, *, wal: bool = True,
                 timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._lock = threading.Lock()
        self._check_file()
        self._db = _StoreDatabase(str(self.path.absolute()), readonly=readonly, timeout=timeout)
        with self._sqlite_errors("cannot open the store"):
            con = self._db._connect()
            try:
                self._check_schema(con)
                self._db._initialize(con)
                if wal and not readonly:
                    con.execute("PRAGMA journal_mode=WAL")
                self.journal_mode = con.execute("PRAGMA journal_mode").fetchone()[0]
            finally:
                con.close()
            if not readonly and "pesgen_store" not in self._db.metadata:
                meta = dict(self._db.metadata)
                meta["pesgen_store"] = STORE_FORMAT_VERSION
                self._db.metadata = meta
        self._fast_rows = self._db.version == ASE_DB_VERSION

    # ------------------------------------------------------------------ opening
    def _check_file(self) -> None:
        # Only stat() and access(): opening and closing the file here would cancel the POSIX locks
        # of every SQLite connection this process has open on it (SQLite's "How To Corrupt An
        # SQLite Database File", section 2.2). SQLite itself reports a file that is no database.
        p = self.path
        if p.is_dir():
            raise StoreError(f"{p}: is a folder, not a store file")
        if not p.exists():
            if self.readonly:
                raise StoreError(f"{p}: store file does not exist")
            if not p.parent.is_dir():
                raise StoreError(f"{p}: cannot create the store, folder {p.parent} does not exist")
            return
        if not os.access(p, os.R_OK):
            raise StoreError(f"{p}: cannot read the store file: permission denied")
        if p.stat().st_size == 0 and self.readonly:
            raise StoreError(f"{p}: the store file is empty")

    def _check_schema(self, con: sqlite3.Connection) -> None:
        query = "SELECT name FROM sqlite_master WHERE type='table'"
        tables = {row[0] for row in con.execute(query)}
        if tables and "systems" not in tables:
            raise StoreError(f"{self.path}: an SQLite database, but not an ase.db store "
                             f"(tables: {', '.join(sorted(tables))})")
        if not tables and self.readonly:
            raise StoreError(f"{self.path}: the store file holds no ase.db tables")

    @contextmanager
    def _sqlite_errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except StoreError:
            raise
        except (sqlite3.OperationalError, OSError) as err:
            raise StoreError(f"{self.path}: {doing}: {err}") from err
        except sqlite3.DatabaseError as err:
            if "file is not a database" in str(err):
                raise StoreError(f"{self.path}: not an SQLite database (corrupt, or not a pesgen "
                                 "store)") from err
            raise StoreError(f"{self.path}: {doing}: {err} (the file is corrupt?)") from err

    def __repr__(self) -> str:
        mode = "readonly" if self.readonly else "readwrite"
        return f"Store({str(self.path)!r}, {mode})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        """Nothing to release: every operation opens and closes its own connection."""

    # ------------------------------------------------------------------ writing
    def _prepare_labeled(self, index: int | None, item: Sequence[Any]) -> tuple[Atoms, dict]:
        if len(item) != 5:
            raise StoreError(f"{self.path}: frame {index}: expected (atoms, energy, forces, "
                             f"stress, provenance), got {len(item)} items")
        atoms, energy, forces, stress, provenance = item
        provenance = Provenance() if provenance is None else provenance
        where = f"{self.path}: {_describe(provenance, index)}"
        check_provenance(provenance, where, StoreError)
        clean = _clean_atoms(atoms, where)
        try:
            energy = float(energy)
        except (TypeError, ValueError) as err:
            raise StoreError(f"{where}: energy must be a number, got {energy!r}") from err
        if not math.isfinite(energy):
            raise StoreError(f"{where}: energy is not finite ({energy})")
        forces = np.array(forces, dtype=float)
        if forces.shape != (len(clean), 3):
            raise StoreError(f"{where}: forces must have shape ({len(clean)}, 3), "
                             f"got {forces.shape}")
        if not np.all(np.isfinite(forces)):
            raise StoreError(f"{where}: forces have non-finite values")
        results: dict[str, Any] = {"energy": energy, "forces": forces}
        if stress is not None:
            if clean.cell.rank != 3 or abs(clean.get_volume()) < 1e-12:
                raise StoreError(f"{where}: a stress needs a cell with non-zero volume")
            results["stress"] = _as_voigt_stress(stress, where)
        clean.calc = SinglePointCalculator(clean, **results)
        kvp = to_key_value_pairs(provenance)
        kvp["failed"] = False
        return clean, kvp

    def _write(self, rows: list[tuple[Atoms, dict]], replacing: Sequence[int] = ()) -> list[int]:
        if not rows:
            return []
        if self.readonly:
            raise StoreError(f"{self.path}: the store was opened read-only")
        ids: list[int] = []
        with self._lock, self._sqlite_errors("writing failed, nothing was written"):
            with self._db:  # one connection, one transaction: commit on success, else rollback
                if replacing:
                    self._delete_failed(list(replacing))
                for atoms, kvp in rows:
                    ids.append(int(self._db.write(atoms, key_value_pairs=kvp)))
        return ids

    def _delete_failed(self, ids: list[int]) -> None:
        """Delete failed-label rows ``ids`` inside the open transaction (a labeled row: an error)."""
        con = self._db.connection
        marks = ", ".join("?" * len(ids))
        found = {r[0] for r in con.execute(f"SELECT id FROM systems WHERE id IN ({marks}) AND {_FAILED_SQL}", ids)}
        if found != set(ids):
            raise StoreError(f"{self.path}: rows {sorted(set(ids) - found)} are not failed labels; nothing "
                             "was replaced")
        self._db._delete(con.cursor(), ids)

    def add(self, atoms: Atoms, energy: float, forces: Any, stress: Any = None,
            provenance: Provenance | None = None) -> int:
        """Add one labeled frame in its own transaction.

        Args:
            atoms: the structure (only species, positions in Å, cell in Å and pbc are kept).
            energy: total energy, eV.
            forces: (natoms, 3) forces, eV/Å.
            stress: None, or (6,) Voigt / (3, 3) stress in eV/Å^3 with ASE's sign
                (positive = tensile).
            provenance: where the frame came from (default ``Provenance()``).

        Returns:
            The row id of the new frame.
        """
        return self.add_many([(atoms, energy, forces, stress, provenance)])[0]

    def add_many(self, items: Iterable[Sequence[Any]], replacing: Sequence[int] = ()) -> list[int]:
        """Add many labeled frames ``(atoms, energy, forces, stress, provenance)`` in one
        transaction: all are stored, or (on any error, or if the process dies) none.

        Every item is checked before anything is written; a bad item raises :class:`StoreError`
        naming its index. ``replacing``: ids of failed-label rows that the new rows supersede (a
        retried label), deleted in the same transaction.
        """
        return self._write([self._prepare_labeled(i, item) for i, item in enumerate(items)], replacing)

    def add_failed(self, atoms: Atoms, reason: str, provenance: Provenance | None = None) -> int:
        """Record a structure whose labeling failed, with the reason. It is kept for the record
        (and so that its ``task_id`` counts as done) but is never returned as training data."""
        return self.add_failed_many([(atoms, reason, provenance)])[0]

    def add_failed_many(self, items: Iterable[Sequence[Any]], replacing: Sequence[int] = ()) -> list[int]:
        """Record many failed labels ``(atoms, reason, provenance)`` in one transaction
        (``replacing``: as in :meth:`add_many`)."""
        rows = []
        for index, (atoms, reason, provenance) in enumerate(items):
            provenance = Provenance() if provenance is None else provenance
            where = f"{self.path}: failed {_describe(provenance, index)}"
            check_provenance(provenance, where, StoreError)
            if not isinstance(reason, str):
                raise StoreError(f"{where}: the failure reason must be a string, got {reason!r}")
            kvp = to_key_value_pairs(provenance)
            kvp["failed"] = True
            kvp["failed_reason"] = encode_text(reason)
            rows.append((_clean_atoms(atoms, where), kvp))
        return self._write(rows, replacing)

    # ------------------------------------------------------------------ reading
    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self._sqlite_errors("reading failed"):
            con = self._db._connect()
            try:
                return con.execute(sql, tuple(args)).fetchall()
            finally:
                con.close()

    def _select_frames(self, conditions: list[str], args: list[Any]) -> list[Atoms]:
        where = " AND ".join(conditions) if conditions else "1"
        if not self._fast_rows:  # an older ase.db layout: let ase decode the rows
            ids = [r[0] for r in self._query(f"SELECT id FROM systems WHERE {where} ORDER BY id",
                                             args)]
            return [self._atoms_from_ase_row(i) for i in ids]
        rows = self._query(f"SELECT {_COLUMNS} FROM systems WHERE {where} ORDER BY id", args)
        return [self._atoms_from_columns(row) for row in rows]

    def _atoms_from_columns(self, row: tuple) -> Atoms:
        """Decode one ``systems`` row of ase.db's SQLite layout (version 9) into Atoms."""
        row_id, numbers, positions, cell, pbc, energy, forces, stress, kvp_text = row
        numbers = np.frombuffer(numbers, dtype=np.int32)
        atoms = Atoms(numbers=numbers,
                      positions=np.frombuffer(positions, dtype=float).reshape(-1, 3),
                      cell=np.frombuffer(cell, dtype=float).reshape(3, 3),
                      pbc=(int(pbc) & np.array([1, 2, 4])).astype(bool))
        kvp = json.loads(kvp_text) if kvp_text else {}
        return self._finish_atoms(atoms, row_id, energy,
                                  None if forces is None else np.frombuffer(forces, dtype=float),
                                  None if stress is None else np.frombuffer(stress, dtype=float),
                                  kvp)

    def _atoms_from_ase_row(self, row_id: int) -> Atoms:
        with self._sqlite_errors("reading failed"):
            row = self._db.get(id=row_id)
        atoms = Atoms(numbers=row.numbers, positions=row.positions, cell=row.cell, pbc=row.pbc)
        return self._finish_atoms(atoms, row_id, row.get("energy"), row.get("forces"),
                                  row.get("stress"), dict(row.key_value_pairs))

    @staticmethod
    def _finish_atoms(atoms: Atoms, row_id: int, energy: float | None, forces: np.ndarray | None,
                      stress: np.ndarray | None, kvp: dict) -> Atoms:
        atoms.info["id"] = int(row_id)
        atoms.info["provenance"] = from_key_value_pairs(kvp)
        if kvp.get("failed"):
            atoms.info["failed_reason"] = decode_text(str(kvp.get("failed_reason", "")))
        if energy is not None and forces is not None:
            results: dict[str, Any] = {"energy": float(energy),
                                       "forces": np.array(forces, dtype=float).reshape(-1, 3)}
            if stress is not None:
                results["stress"] = np.array(stress, dtype=float)
            atoms.calc = SinglePointCalculator(atoms, **results)
        return atoms

    def frames(self, iteration: int | None = None, origin: str | None = None,
               include_failed: bool = False) -> list[Atoms]:
        """Frames in insertion order, as Atoms with a SinglePointCalculator holding energy (eV),
        forces (eV/Å) and stress (eV/Å^3, Voigt, if any).

        ``atoms.info["provenance"]`` is the :class:`Provenance`, ``atoms.info["id"]`` the row id.
        Failed labels are left out unless ``include_failed``; they have no calculator and carry
        ``atoms.info["failed_reason"]``.

        Args:
            iteration: only frames of this iteration.
            origin: only frames of this origin ("initial", "explored", "imported").
            include_failed: also return failed labels.
        """
        conditions: list[str] = []
        args: list[Any] = []
        if not include_failed:
            conditions.append(_LABELED_SQL)
        if iteration is not None:
            conditions.append("id IN (SELECT id FROM number_key_values "
                              "WHERE key='iteration' AND value=?)")
            args.append(int(iteration))
        if origin is not None:
            conditions.append("id IN (SELECT id FROM text_key_values "
                              "WHERE key='origin' AND value=?)")
            args.append(encode_text(origin))
        return self._select_frames(conditions, args)

    def failed(self) -> list[tuple[Atoms, str, Provenance]]:
        """Failed labels as ``(atoms, reason, provenance)``, in insertion order."""
        return [(a, a.info["failed_reason"], a.info["provenance"])
                for a in self._select_frames([_FAILED_SQL], [])]

    def __len__(self) -> int:
        """Number of labeled (non-failed) frames."""
        return int(self._query(f"SELECT COUNT(*) FROM systems WHERE {_LABELED_SQL}")[0][0])

    def count_failed(self) -> int:
        """Number of failed labels."""
        return int(self._query(f"SELECT COUNT(*) FROM systems WHERE {_FAILED_SQL}")[0][0])

    def task_ids(self) -> set[str]:
        """Task ids of all recorded frames, labeled or failed."""
        rows = self._query("SELECT value FROM text_key_values WHERE key='task_id'")
        return {decode_text(str(r[0])) for r in rows}

    def check(self, quick: bool = False) -> None:
        """Run SQLite's integrity check (``quick``: its faster ``quick_check``, which skips the
        indices' contents); raise :class:`StoreError` if the file is damaged."""
        rows = self._query("PRAGMA quick_check" if quick else "PRAGMA integrity_check")
        problems = [" ".join(str(r[0]).replace("*** in database main ***", "").split())  # on one line
                    for r in rows if r[0] != "ok"]
        if problems:
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            raise StoreError(f"{self.path}: integrity check failed: {'; '.join(problems[:3])}{more}")
