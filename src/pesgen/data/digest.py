"""A short content digest of a file or folder (the task ids of imported frames are built on it)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def source_digest(path: str | Path) -> str:
    """A short SHA-256 of a file's bytes, or of all files (names and bytes) below a folder."""
    path = Path(path)
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        digest.update(str(file.relative_to(path) if file != path else "").encode())
        with open(file, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]
