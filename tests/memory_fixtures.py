"""Fixtures and helpers shared by the memory tests (imported by tests/test_memory_*.py).

Test modules import the fixture functions (``*_fixture``); pytest registers them under their
``name`` (``memory_config``, ``chroma_server``), so test arguments do not shadow the imports.

``memory_config`` is parametrised over the embedded store and a real ``chroma run`` server, so
every test that uses it runs against both; the server case is marked ``server``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
MRI = REPO / "scenarios" / "images" / "mri"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session", name="chroma_server")
def chroma_server_fixture(tmp_path_factory):
    """A ``chroma run`` server on a free port for the whole session; stopped afterwards."""
    exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = _free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen([exe, "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail(f"chroma run did not start (exit code {proc.poll()})")
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(name="memory_config", params=["embedded", pytest.param("server", marks=pytest.mark.server)])
def memory_config_fixture(request, tmp_path):
    """A fresh, isolated MemoryConfig (classical encoder) in embedded or server mode."""
    from agentsim.memory.store import MemoryConfig

    prefix = f"t{uuid.uuid4().hex[:10]}"
    if request.param == "server":
        url = request.getfixturevalue("chroma_server")
        return MemoryConfig(chroma_url=url, image_encoder="classical", prefix=prefix)
    return MemoryConfig(data_dir=tmp_path / "memory", image_encoder="classical", prefix=prefix)


def pattern_image(kind: str, seed: int, size: int = 96) -> np.ndarray:
    """Synthetic grayscale 'scans' of two visually distinct kinds with random variation.

    ``blob``: a bright disc at a random place on a dark oval; ``stripes``: oriented bands.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    head = (((yy - 0.5) / 0.45) ** 2 + ((xx - 0.5) / 0.38) ** 2 < 1).astype(np.float32) * 0.35
    if kind == "blob":
        cy, cx, r = rng.uniform(0.35, 0.65), rng.uniform(0.35, 0.65), rng.uniform(0.08, 0.14)
        img = head + ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r) * 0.6
    else:
        angle = rng.uniform(0, np.pi)
        freq = rng.uniform(10, 14)
        img = head * (1 + np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * freq * np.pi))
    img = img + rng.normal(0, 0.03, img.shape)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def write_png(path: Path, arr: np.ndarray) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def make_labelled_folder(folder: Path, per_kind: int = 6) -> Path:
    """PNG images of two kinds plus a labels.csv sidecar; returns the folder."""
    rows = ["file,label,caption,modality,body_part"]
    for k, (kind, label, caption) in enumerate((("blob", "mass lesion", "round enhancing mass"),
                                                ("stripes", "striated pattern", "banded artefact"))):
        for i in range(per_kind):
            name = f"{kind}-{i:02d}.png"
            write_png(folder / name, pattern_image(kind, seed=1000 * k + i))
            rows.append(f"{name},{label},{caption},MRI,brain")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def make_tiny_open_clip(folder: Path) -> Path:
    """A tiny random-init open_clip model saved as a ``local-dir:`` folder (config + weights)."""
    import open_clip
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"model_cfg": {"embed_dim": 32,
                         "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
                         "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2,
                                      "layers": 1}},
           "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}}
    (folder / "open_clip_config.json").write_text(json.dumps(cfg))
    (folder / "tiny-clip.json").write_text(json.dumps(cfg["model_cfg"]))
    torch.manual_seed(0)
    model = open_clip.create_model(f"local-dir:{folder}")
    torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
    return folder
