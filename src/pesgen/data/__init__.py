"""The labeled-frame store (SQLite through ase.db) with provenance, import/export, batching."""
