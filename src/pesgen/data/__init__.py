"""The labeled-frame store (SQLite through ase.db) with provenance, and its import/export.

Public API::

    from pesgen.data import Store, Provenance, StoreError
    store = Store("store.db")
    store.add(atoms, energy=e, forces=f, stress=s, provenance=Provenance(iteration=1, ...))
    frames = store.frames()            # list of ase.Atoms with a SinglePointCalculator

    from pesgen.data import read_labeled, import_into_store, export_frames
    import_into_store(store, ["OUTCAR", "deepmd_data/"], fmt="auto")
    export_frames(store.frames(), "out", "deepmd-npy", type_map=["Al", "Mg"])

See docs/data.md.
"""

from pesgen.data.errors import DataError, DataExportError, DataImportError, StoreError
from pesgen.data.exporters import export_frames
from pesgen.data.importers import import_into_store, read_labeled
from pesgen.data.labeled_frame import LabeledFrame
from pesgen.data.provenance import Provenance
from pesgen.data.store import Store

__all__ = ["DataError", "DataExportError", "DataImportError", "LabeledFrame", "Provenance", "Store",
           "StoreError", "export_frames", "import_into_store", "read_labeled"]
