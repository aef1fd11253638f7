"""Image loading: PNG/JPEG/DICOM, grayscale and RGB, windowing, and clear errors for bad files."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from memory_fixtures import MRI, pattern_image, write_png

from agentsim.errors import ImageError
from agentsim.memory.imageio import convert, file_sha256, find_images, load_image, sniff_format, window_dicom


def _testdata(name: str):
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"pydicom test file {name} not available")
    return path


def test_png_gray_and_rgb(tmp_path):
    arr = pattern_image("blob", 1)
    p = write_png(tmp_path / "a.png", arr)
    gray = load_image(p, "L")
    rgb = load_image(p, "RGB")
    assert gray.shape == arr.shape and gray.dtype == np.uint8
    assert np.array_equal(gray, arr)
    assert rgb.shape == (*arr.shape, 3) and np.array_equal(rgb[..., 1], arr)


def test_jpeg_rgb_to_gray():
    path = MRI / "brain-mri-0001.jpg"
    rgb = load_image(path, "RGB")
    gray = load_image(path, "L")
    assert rgb.ndim == 3 and gray.ndim == 2 and gray.shape == rgb.shape[:2]
    assert sniff_format(path) == "jpeg"


def test_dicom_ct_windowed_to_8bit():
    import pydicom

    path = _testdata("CT_small.dcm")
    img = load_image(path, "L")
    assert img.dtype == np.uint8 and img.shape == (128, 128)
    # The raw CT values span thousands of HU; after windowing the image uses the 8-bit range.
    raw = pydicom.dcmread(path).pixel_array
    assert raw.max() > 255
    assert img.min() == 0 and img.max() == 255 and 20 < img.mean() < 235


def test_dicom_mr_and_monochrome1_inverted(tmp_path):
    import pydicom

    path = _testdata("MR_small.dcm")
    normal = load_image(path, "L")
    ds = pydicom.dcmread(path)
    ds.PhotometricInterpretation = "MONOCHROME1"
    inverted = window_dicom(ds, ds.pixel_array)
    assert np.array_equal(inverted.astype(int), 255 - normal.astype(int))
    # A copy without the .dcm name is still recognised by its bytes.
    other = tmp_path / "scan.bin"
    shutil.copyfile(path, other)
    assert sniff_format(other) == "dicom"
    assert np.array_equal(load_image(other, "L"), normal)


def test_corrupt_jpeg_names_file(tmp_path):
    good = (MRI / "brain-mri-0002.jpg").read_bytes()
    bad = tmp_path / "broken scan.jpg"
    bad.write_bytes(good[: len(good) // 3])
    with pytest.raises(ImageError) as err:
        load_image(bad)
    assert "broken scan.jpg" in str(err.value) and "corrupt" in str(err.value)


def test_corrupt_dicom_names_file(tmp_path):
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00garbage" * 5)
    with pytest.raises(ImageError) as err:
        load_image(bad)
    assert "bad.dcm" in str(err.value) and "DICOM" in str(err.value)


def test_dicom_without_pixels_is_clear(tmp_path):
    import pydicom

    ds = pydicom.dcmread(_testdata("CT_small.dcm"))
    del ds.PixelData
    path = tmp_path / "nopix.dcm"
    ds.save_as(path)
    with pytest.raises(ImageError, match="no pixel data"):
        load_image(path)


def test_unsupported_and_missing(tmp_path):
    txt = tmp_path / "notes.txt"
    txt.write_text("not an image")
    with pytest.raises(ImageError, match="notes.txt: unsupported file type"):
        load_image(txt)
    with pytest.raises(ImageError, match="no such image file"):
        load_image(tmp_path / "missing.png")


def test_convert_arrays():
    f = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    out = convert(f, "L")
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    assert convert(rgba, "RGB").shape == (4, 4, 3)
    with pytest.raises(ImageError, match="expected a 2-D"):
        convert(np.zeros((2, 2, 2, 2)), "L")


def test_find_images_and_hash(tmp_path):
    write_png(tmp_path / "sub" / "x.png", pattern_image("blob", 2))
    write_png(tmp_path / "y.PNG", pattern_image("blob", 3))
    (tmp_path / "readme.md").write_text("x")
    found = find_images([tmp_path])
    assert [p.name for p in found] == ["x.png", "y.PNG"]
    assert len(file_sha256(found[0])) == 64
    with pytest.raises(ImageError, match="no such file or folder"):
        find_images([tmp_path / "nope"])
