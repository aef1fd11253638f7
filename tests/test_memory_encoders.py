"""Image encoders: the weight-free descriptor, EfficientNet-Lite0 and open_clip through its real loader."""

from __future__ import annotations

import numpy as np
import pytest
from memory_fixtures import MRI, make_tiny_open_clip, pattern_image

from agentsim.errors import ConfigError, ImageError
from agentsim.memory.encoders import ClassicalImageEncoder, make_image_encoder


def _unit(v: np.ndarray) -> bool:
    return bool(np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4))


def test_classical_shapes_determinism_and_inputs():
    enc = ClassicalImageEncoder()
    path = MRI / "brain-mri-0004.jpg"
    from agentsim.memory.imageio import load_image

    a = enc.encode_images([path, load_image(path, "L"), load_image(path, "RGB")])
    assert a.shape == (3, enc.dim) and a.dtype == np.float32 and _unit(a)
    assert np.allclose(a[0], a[1], atol=1e-5) and np.allclose(a[0], a[2], atol=1e-2)
    assert enc.encode_images([]).shape == (0, enc.dim)
    assert not enc.supports_text
    with pytest.raises(ConfigError, match="no text tower"):
        enc.encode_text(["x"])


def test_classical_separates_kinds_and_tolerates_noise():
    enc = ClassicalImageEncoder()
    blobs = enc.encode_images([pattern_image("blob", s) for s in range(6)])
    stripes = enc.encode_images([pattern_image("stripes", s) for s in range(6)])
    within = np.mean([blobs[i] @ blobs[j] for i in range(6) for j in range(6) if i != j])
    across = np.mean(blobs @ stripes.T)
    assert within > across + 0.05
    # Nearest neighbour of each image is of its own kind.
    allv = np.vstack([blobs, stripes])
    sims = allv @ allv.T
    np.fill_diagonal(sims, -1)
    labels = np.array([0] * 6 + [1] * 6)
    assert (labels[sims.argmax(axis=1)] == labels).all()


def test_classical_real_mri_crop_and_resize_invariance():
    """A rescaled, padded copy of an MRI stays closer to the original than other MRIs do."""
    from PIL import Image

    from agentsim.memory.imageio import load_image

    enc = ClassicalImageEncoder()
    orig = load_image(MRI / "brain-mri-0012.jpg", "L")
    small = np.asarray(Image.fromarray(orig).resize((orig.shape[1] // 2, orig.shape[0] // 2)))
    padded = np.pad(small, 40)  # extra scanner background around a smaller copy
    others = sorted(MRI.glob("brain-mri-00[0-9][0-9].jpg"))[:8]
    v = enc.encode_images([orig, padded, *[p for p in others if p.name != "brain-mri-0012.jpg"]])
    assert v[0] @ v[1] > max(v[0] @ v[i] for i in range(2, len(v)))


def test_encoder_reports_bad_file(tmp_path):
    bad = tmp_path / "x.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(ImageError, match="x.png"):
        ClassicalImageEncoder().encode_images([bad])


def test_unknown_spec():
    with pytest.raises(ConfigError, match="unknown image encoder"):
        make_image_encoder("resnet-9000")


def test_efficientnet_lite0_loads_packaged_weights():
    enc = make_image_encoder("efficientnet-lite0")
    paths = [MRI / "brain-mri-0001.jpg", MRI / "brain-mri-0002.jpg"]
    v = enc.encode_images(paths, batch_size=1)
    w = enc.encode_images(paths, batch_size=2)
    assert v.shape == (2, 1280) and _unit(v)
    assert np.allclose(v, w, atol=1e-4)  # batching does not change results
    # Pretrained features: the same image in gray and RGB form embeds almost identically.
    from agentsim.memory.imageio import load_image

    g = enc.encode_images([load_image(paths[0], "L")])
    assert float(g[0] @ v[0]) > 0.99


def test_hf_hub_offline_fails_fast_with_clear_message(monkeypatch):
    import time

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as err:
        make_image_encoder("hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224")
    assert time.perf_counter() - t0 < 10
    assert "not in the local Hugging Face cache" in str(err.value)


def test_local_dir_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        make_image_encoder(f"local-dir:{tmp_path / 'nope'}")
    (tmp_path / "open_clip_config.json").write_text('{"model_cfg": {}}')
    with pytest.raises(ConfigError, match="no weights file"):
        make_image_encoder(f"local-dir:{tmp_path}")
    with pytest.raises(ConfigError, match="checkpoint file .* not found"):
        make_image_encoder(f"open_clip:ViT-B-32:{tmp_path / 'missing.pt'}")
    with pytest.raises(ConfigError, match="unknown open_clip architecture"):
        make_image_encoder("open_clip:NoSuchNet:/x.pt")


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    return make_tiny_open_clip(tmp_path_factory.mktemp("tiny-clip"))


def test_open_clip_local_dir_images_and_text(tiny_clip):
    enc = make_image_encoder(f"local-dir:{tiny_clip}")
    assert enc.supports_text and enc.dim == 32
    assert enc.name.startswith("open_clip:local-dir:open_clip_pytorch_model.bin:")
    imgs = enc.encode_images([MRI / "brain-mri-0001.jpg", pattern_image("blob", 0), pattern_image("stripes", 0)],
                             batch_size=2)
    txt = enc.encode_text(["round mass", "banded artefact"])
    assert imgs.shape == (3, 32) and txt.shape == (2, 32) and _unit(imgs) and _unit(txt)
    again = make_image_encoder(f"local-dir:{tiny_clip}").encode_images([MRI / "brain-mri-0001.jpg"])
    assert np.allclose(again[0], imgs[0], atol=1e-5)  # the saved weights were loaded, not a new random init


def test_open_clip_checkpoint_file(tiny_clip):
    spec = f"open_clip:{tiny_clip / 'tiny-clip.json'}:{tiny_clip / 'open_clip_pytorch_model.bin'}"
    enc = make_image_encoder(spec)
    assert enc.dim == 32 and enc.name.startswith("open_clip:tiny-clip:")
    assert enc.encode_images([MRI / "brain-mri-0003.jpg"]).shape == (1, 32)
