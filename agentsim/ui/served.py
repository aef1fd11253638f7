"""Making image files the app shows servable by Gradio.

Gradio serves a file only from a folder in ``allowed_paths``, fixed at launch. Case images and
uploads live in allowed folders, but a memory search can return any indexed image (a shared
data set, a hospital archive), wherever it is on disk. Such files are copied on first use into a
cache folder inside an allowed one; allowing the whole file system instead would expose it.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path


class ServedFiles:
    """Maps an image path to one Gradio may serve: in place under ``roots``, else a cached copy."""

    def __init__(self, roots: Sequence[Path], cache_dir: Path):
        self.roots = [Path(r).resolve() for r in roots]
        self.cache_dir = Path(cache_dir)

    def _allowed(self, path: Path) -> bool:
        return any(path.is_relative_to(root) for root in self.roots)

    def __call__(self, path: str | Path) -> str | None:
        """A servable path for ``path``, or None when it is not a readable file."""
        p = Path(path)
        try:
            if not p.is_file():
                return None
            p = p.resolve()
            if self._allowed(p):
                return str(p)
            st = p.stat()
            # Keyed by path and version, so a changed file is copied again rather than shown stale.
            key = hashlib.sha1(f"{p}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:20]
            dest = self.cache_dir / f"{key}{p.suffix.lower()}"
            if not dest.is_file():
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                tmp = dest.with_suffix(dest.suffix + ".part")
                shutil.copyfile(p, tmp)
                tmp.replace(dest)
            return str(dest)
        except OSError:
            return None
