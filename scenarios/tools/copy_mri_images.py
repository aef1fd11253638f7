"""Copy the brain MRI images used by hand-written cases into ``scenarios/images/mri/``.

The images come from the team's local copy of Bhuvaji et al. 2020, "Brain Tumor Classification
(MRI)" (MIT as declared by the dataset author). Only Testing-split images with
``is_first_copy == 1`` are used, so none of them is a byte-duplicate of a Training image that a
retrieval gallery might hold. Files get neutral names (the label is in the dataset path, never in
ours) and are copied byte-for-byte; ``SOURCES.csv`` records the original file, label and sha256.

Usage::

    python scenarios/tools/copy_mri_images.py [--dataset /work/shared/data/images/brain-tumor-mri]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import shutil
import sys
from pathlib import Path

DEFAULT_DATASET = Path("/work/shared/data/images/brain-tumor-mri")
OUT_DIR = Path(__file__).resolve().parent.parent / "images" / "mri"

# Neutral name -> original file (relative to the dataset root). Chosen by looking at the images so
# that plane, sequence and lesion site fit the case that uses each one.
SELECTION: dict[str, str] = {
    "brain-mri-0001.jpg": "images/Testing/glioma_tumor/image(28).jpg",
    "brain-mri-0002.jpg": "images/Testing/glioma_tumor/image(3).jpg",
    "brain-mri-0003.jpg": "images/Testing/glioma_tumor/image(42).jpg",
    "brain-mri-0004.jpg": "images/Testing/meningioma_tumor/image(2).jpg",
    "brain-mri-0005.jpg": "images/Testing/meningioma_tumor/image(120).jpg",
    "brain-mri-0006.jpg": "images/Testing/meningioma_tumor/image(35).jpg",
    "brain-mri-0007.jpg": "images/Testing/no_tumor/image(2).jpg",
    "brain-mri-0008.jpg": "images/Testing/no_tumor/image(7).jpg",
    "brain-mri-0009.jpg": "images/Testing/no_tumor/image(5).jpg",
    "brain-mri-0010.jpg": "images/Testing/no_tumor/image(17).jpg",
    "brain-mri-0011.jpg": "images/Testing/no_tumor/image(1).jpg",
    "brain-mri-0012.jpg": "images/Testing/pituitary_tumor/image(85).jpg",
    "brain-mri-0013.jpg": "images/Testing/pituitary_tumor/image(27).jpg",
    "brain-mri-0014.jpg": "images/Testing/pituitary_tumor/image(30).jpg",
    "brain-mri-0015.jpg": "images/Testing/pituitary_tumor/image(11).jpg",
    "brain-mri-0016.jpg": "images/Testing/pituitary_tumor/image(79).jpg",
    "brain-mri-0017.jpg": "images/Testing/pituitary_tumor/image(41).jpg",
    "brain-mri-0018.jpg": "images/Testing/no_tumor/image(19).jpg",
}


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    """Copy the selection, verify it against labels.csv, and write SOURCES.csv."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="dataset root holding labels.csv")
    ap.add_argument("--out", type=Path, default=OUT_DIR, help="destination folder")
    args = ap.parse_args(argv)

    labels_csv = args.dataset / "labels.csv"
    if not labels_csv.is_file():
        print(f"error: {labels_csv} not found", file=sys.stderr)
        return 2
    with labels_csv.open(newline="", encoding="utf-8") as fh:
        rows = {r["file"]: r for r in csv.DictReader(fh)}

    args.out.mkdir(parents=True, exist_ok=True)
    records = []
    for new_name, original in SELECTION.items():
        row = rows.get(original)
        if row is None:
            print(f"error: {original} is not listed in {labels_csv}", file=sys.stderr)
            return 1
        # Held-out, de-duplicated images only: anything else could also sit in a retrieval gallery.
        if row["split"] != "testing" or row["is_first_copy"] != "1":
            print(f"error: {original} is not a first-copy Testing image", file=sys.stderr)
            return 1
        src = args.dataset / original
        digest = sha256_of(src)
        if digest != row["sha256"]:
            print(f"error: sha256 of {src} does not match labels.csv", file=sys.stderr)
            return 1
        dst = args.out / new_name
        shutil.copyfile(src, dst)
        records.append({"new_name": new_name, "original_file": original, "label": row["label"], "sha256": digest})

    with (args.out / "SOURCES.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["new_name", "original_file", "label", "sha256"])
        w.writeheader()
        w.writerows(records)
    print(f"copied {len(records)} images to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
