"""Loading medical images (PNG, JPEG, DICOM) as 8-bit arrays for the image encoders.

Formats are recognised by their bytes, not their file names. DICOM pixel data goes through the
modality LUT (rescale slope/intercept) and then the file's VOI window (WindowCenter/Width or a
VOI LUT); without one, a robust percentile window is used, because raw 12-16 bit CT/MR values
scaled by min/max would let a single bright pixel wash out the anatomy. MONOCHROME1 is inverted
so bone is bright in every image. Multi-frame files give their middle frame.

Every failure raises :class:`agentsim.errors.ImageError` naming the file and the cause.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Literal

import numpy as np

from agentsim.errors import ImageError

Mode = Literal["L", "RGB"]

#: File suffixes picked up when a folder is indexed.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm", ".dicom")


def sniff_format(path: str | Path) -> str | None:
    """``"png"``, ``"jpeg"``, ``"dicom"`` or None, from the file's first bytes."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError as exc:
        raise ImageError(f"{path}: cannot read file: {exc.strerror or exc}") from None
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    return None


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (the identity of an image in memory)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError as exc:
        raise ImageError(f"{path}: cannot read file: {exc.strerror or exc}") from None
    return h.hexdigest()


def to_uint8(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Linearly map [low, high] to [0, 255] with clipping."""
    if not np.isfinite(low) or not np.isfinite(high) or high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    out = (values.astype(np.float32) - low) * (255.0 / (high - low))
    return np.clip(out, 0, 255).astype(np.uint8)


def window_dicom(ds, pixels: np.ndarray) -> np.ndarray:
    """Apply modality LUT and VOI windowing to grayscale DICOM pixels, returning uint8."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    values = apply_modality_lut(pixels, ds).astype(np.float32)
    has_window = "WindowCenter" in ds and "WindowWidth" in ds
    has_voi_lut = "VOILUTSequence" in ds
    if has_window or has_voi_lut:
        values = apply_voi_lut(values, ds, index=0).astype(np.float32)
        if has_window and not has_voi_lut:
            center = float(np.atleast_1d(ds.WindowCenter)[0])
            width = float(np.atleast_1d(ds.WindowWidth)[0])
            lo, hi = center - width / 2, center + width / 2
        else:
            lo, hi = float(values.min()), float(values.max())
    else:
        lo, hi = (float(x) for x in np.percentile(values, [0.5, 99.5]))
        if hi <= lo:
            lo, hi = float(values.min()), float(values.max())
    out = to_uint8(values, lo, hi)
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        out = 255 - out
    return out


def _load_dicom(path: Path, force: bool = False) -> np.ndarray:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(str(path), force=force)
    except (InvalidDicomError, OSError, ValueError, EOFError, AttributeError, KeyError) as exc:
        raise ImageError(f"{path}: not a readable DICOM file ({exc})") from None
    if "PixelData" not in ds:
        raise ImageError(f"{path}: DICOM file has no pixel data (modality {ds.get('Modality', '?')})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pixels = ds.pixel_array
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for undecodable pixel data
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        name = getattr(syntax, "name", str(syntax)) if syntax is not None else "unknown"
        hint = " (compressed; needs an extra decoder such as pylibjpeg or python-gdcm)" if (
            syntax is not None and getattr(syntax, "is_compressed", False)) else ""
        raise ImageError(f"{path}: cannot decode DICOM pixel data (transfer syntax {name}{hint}): "
                         f"{str(exc).splitlines()[0][:200]}") from None
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if frames > 1:
        pixels = pixels[frames // 2]
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        rgb = apply_color_lut(pixels, ds)
        return to_uint8(rgb.astype(np.float32), 0.0, 65535.0 if rgb.dtype == np.uint16 else 255.0)
    if samples == 3:
        # pydicom 3 already returns YBR colour data converted to RGB.
        if pixels.dtype != np.uint8:
            pixels = to_uint8(pixels, float(pixels.min()), float(pixels.max()))
        return np.ascontiguousarray(pixels)
    if pixels.ndim != 2:
        raise ImageError(f"{path}: unsupported DICOM pixel layout {pixels.shape} ({photometric})")
    return window_dicom(ds, pixels)


def _load_raster(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                # 16-bit PNGs (common for exported radiographs): window like DICOM, by percentiles.
                arr = np.asarray(im, dtype=np.float32)
                lo, hi = (float(x) for x in np.percentile(arr, [0.5, 99.5]))
                return to_uint8(arr, lo, hi if hi > lo else lo + 1)
            if im.mode in ("L", "RGB"):
                return np.asarray(im).copy()
            if im.mode in ("LA", "P", "PA", "RGBA", "1", "CMYK", "YCbCr", "LAB", "HSV"):
                return np.asarray(im.convert("RGB")).copy()
            raise ImageError(f"{path}: unsupported image mode {im.mode}")
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"{path}: corrupt or truncated image ({exc})") from None


def load_image(path: str | Path, mode: Mode = "RGB") -> np.ndarray:
    """Read an image file as uint8: (H, W) for ``mode="L"``, (H, W, 3) for ``"RGB"``."""
    p = Path(path)
    if not p.is_file():
        raise ImageError(f"{p}: no such image file")
    kind = sniff = sniff_format(p)
    if kind is None:
        # DICOM files without the 128-byte preamble exist; only try them when named as DICOM.
        if p.suffix.lower() in (".dcm", ".dicom"):
            kind = "dicom"
        else:
            raise ImageError(f"{p}: unsupported file type (expected PNG, JPEG or DICOM)")
    if kind == "dicom":
        # A preamble-less file (no "DICM" magic) is only read because its name says DICOM.
        arr = _load_dicom(p, force=sniff is None)
    else:
        arr = _load_raster(p)
    return convert(arr, mode, str(p))


def convert(arr: np.ndarray, mode: Mode, name: str = "<array>") -> np.ndarray:
    """Bring an in-memory image (gray, RGB or RGBA; any numeric dtype) to uint8 in ``mode``."""
    a = np.asarray(arr)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 3 and a.shape[2] == 4:
        a = a[:, :, :3]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3) or min(a.shape[:2]) < 1:
        raise ImageError(f"{name}: expected a 2-D grayscale or H x W x 3 image, got shape {a.shape}")
    if a.dtype != np.uint8:
        f = a.astype(np.float32)
        if f.size and f.max() <= 1.0 and f.min() >= 0.0:
            a = to_uint8(f, 0.0, 1.0)
        else:
            a = to_uint8(f, float(f.min()), float(f.max()) if f.max() > f.min() else float(f.min()) + 1)
    if mode == "L" and a.ndim == 3:
        # ITU-R 601 luma, the same weights PIL uses for "L".
        a = (a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114).round().astype(np.uint8)
    elif mode == "RGB" and a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    return np.ascontiguousarray(a)


def find_images(paths: list[str | Path]) -> list[Path]:
    """Image files among ``paths`` (folders are searched recursively), sorted, without duplicates."""
    out: dict[Path, None] = {}
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES:
                    out[f.resolve()] = None
        elif p.is_file():
            out[p.resolve()] = None
        else:
            raise ImageError(f"{p}: no such file or folder")
    return list(out)
