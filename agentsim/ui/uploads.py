"""Checking user-uploaded images before they reach the image memory.

An upload is accepted only if it is small enough, has a PNG/JPEG/DICOM signature and actually
decodes. Accepted files are copied into the app's own temporary folder under a random name,
so nothing a user uploads is written anywhere else.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

from agentsim.errors import ImageError
from agentsim.memory.imageio import sniff_format

MAX_UPLOAD_BYTES = 10 * 1024 * 1024


def check_upload(path: str | Path, upload_dir: Path, max_bytes: int = MAX_UPLOAD_BYTES) -> Path:
    """Validate an uploaded file and copy it into ``upload_dir``; raises :class:`ImageError`."""
    src = Path(path)
    name = src.name
    try:
        size = src.stat().st_size
    except OSError as exc:
        raise ImageError(f"{name}: cannot read upload: {exc.strerror or exc}") from None
    if size > max_bytes:
        raise ImageError(f"{name}: file is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB")
    kind = sniff_format(src)
    if kind is None:
        raise ImageError(f"{name}: not a PNG, JPEG or DICOM file")
    try:
        if kind == "dicom":
            import pydicom

            ds = pydicom.dcmread(str(src))
            _ = ds.pixel_array
        else:
            from PIL import Image

            with Image.open(src) as im:
                im.verify()
    except Exception as exc:  # noqa: BLE001 - any decoder failure means a broken upload
        raise ImageError(f"{name}: the {kind.upper()} file is corrupt or unsupported ({type(exc).__name__})") from None
    upload_dir.mkdir(parents=True, exist_ok=True)
    dest = upload_dir / f"{uuid.uuid4().hex}.{'dcm' if kind == 'dicom' else kind}"
    shutil.copyfile(src, dest)
    return dest


def app_upload_dir() -> Path:
    """A fresh per-process temporary folder for uploads."""
    return Path(tempfile.mkdtemp(prefix="agentsim-uploads-"))
