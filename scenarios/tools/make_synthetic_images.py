"""Draw deterministic synthetic clinical illustrations for the hand-written cases.

Each image is a simple sketch whose *visual pattern* differs by condition (an irregular
multi-coloured lesion, target lesions, an annular plaque, a dermatomal vesicular band, a
radiograph-like lucency, an ultrasound-like ring, a fundus with a pale retina ...). They are
teaching illustrations, not photographs or recordings: every image is stamped "SYNTHETIC",
case files mark them ``"synthetic": true`` and their captions start "Synthetic illustration:".

File names are neutral (``skin-001.png``, ``xray-002.png`` ...) so a name never gives away a case's
answer; the mapping from file to drawn pattern lives only in :data:`IMAGES` below.

Usage::

    python scenarios/tools/make_synthetic_images.py [--out scenarios/images/synthetic] [--only skin-001]

The same command always produces the same bytes: every drawing uses its own fixed seed and the
PNG carries no timestamp. Each file is kept under 150 KB (checked; the script fails otherwise).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

SIZE = 448
MAX_BYTES = 150_000
OUT_DIR = Path(__file__).resolve().parent.parent / "images" / "synthetic"

Array = np.ndarray


# ---------------------------------------------------------------------------------------------
# Small drawing toolkit. Images are float arrays in [0, 1], shape (H, W, 3) or (H, W).


def grid(size: int = SIZE) -> tuple[Array, Array]:
    """Pixel coordinate grids (x, y)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    return x, y


def smooth_noise(rng: np.random.Generator, cells: int, size: int = SIZE) -> Array:
    """Low-frequency noise in [0, 1]: a coarse random grid upsampled bicubically."""
    coarse = (rng.random((cells, cells)) * 255).astype(np.uint8)
    im = Image.fromarray(coarse, "L").resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(im, dtype=np.float32) / 255.0


def blur(a: Array, radius: float) -> Array:
    """Gaussian blur of a [0, 1] mask or grey image."""
    im = Image.fromarray(np.clip(a * 255, 0, 255).astype(np.uint8), "L")
    return np.asarray(im.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32) / 255.0


def blend(img: Array, color: tuple[float, float, float] | Array, alpha: Array) -> Array:
    """Alpha-blend a colour (or per-pixel colour image) into ``img`` with a [0, 1] alpha mask."""
    a = np.clip(alpha, 0, 1)[..., None]
    c = np.asarray(color, dtype=np.float32)
    return img * (1 - a) + c * a


def rgb(hexstr: str) -> tuple[float, float, float]:
    """'#rrggbb' to floats."""
    h = hexstr.lstrip("#")
    return tuple(int(h[i : i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]


def radial_blob(
    rng: np.random.Generator, cx: float, cy: float, r: float, wobble: float, harmonics: int = 6, size: int = SIZE
) -> Array:
    """Binary mask of a blob whose radius varies with angle (wobble=0 gives a disc)."""
    x, y = grid(size)
    dx, dy = x - cx, y - cy
    theta = np.arctan2(dy, dx)
    rad = np.ones_like(theta)
    for k in range(2, harmonics + 2):
        rad += wobble * rng.uniform(0.3, 1.0) / k**0.7 * np.cos(k * theta + rng.uniform(0, 2 * math.pi))
    return (np.hypot(dx, dy) <= r * rad).astype(np.float32)


def disc(cx: float, cy: float, r: float, size: int = SIZE, sx: float = 1.0, sy: float = 1.0) -> Array:
    """Soft-free elliptical disc mask."""
    x, y = grid(size)
    return ((((x - cx) / sx) ** 2 + ((y - cy) / sy) ** 2) <= r * r).astype(np.float32)


def ring(cx: float, cy: float, r: float, width: float, size: int = SIZE) -> Array:
    """Annulus mask centred on radius ``r``."""
    x, y = grid(size)
    d = np.hypot(x - cx, y - cy)
    return (np.abs(d - r) <= width / 2).astype(np.float32)


def skin_base(rng: np.random.Generator, tone: str = "#e2b497", size: int = SIZE) -> Array:
    """Skin-coloured background with gentle mottling and fine texture."""
    base = np.ones((size, size, 3), np.float32) * np.asarray(rgb(tone), np.float32)
    mott = smooth_noise(rng, 6, size) - 0.5
    fine = blur(rng.random((size, size)).astype(np.float32), 0.8) - 0.5
    shade = 1 + 0.10 * mott + 0.06 * fine
    return np.clip(base * shade[..., None], 0, 1)


def vessels(
    draw: ImageDraw.ImageDraw,
    rng: np.random.Generator,
    start: tuple[float, float],
    angle: float,
    length: float,
    width: float,
    color: tuple[int, int, int] | int,
    depth: int,
    wander: float = 0.25,
) -> None:
    """Draw a branching vessel tree by random walk (fundus vessels, telangiectasia, lung markings)."""
    x, y = start
    steps = max(4, int(length / 6))
    for i in range(steps):
        angle += rng.normal(0, wander)
        nx, ny = x + 6 * math.cos(angle), y + 6 * math.sin(angle)
        w = max(1, round(width * (1 - 0.5 * i / steps)))
        draw.line([(x, y), (nx, ny)], fill=color, width=w)
        x, y = nx, ny
        if depth > 0 and rng.random() < 1.6 / steps:
            vessels(draw, rng, (x, y), angle + rng.choice([-1, 1]) * rng.uniform(0.4, 0.9), length * 0.55,
                    width * 0.65, color, depth - 1, wander)


def overlay_lines(img: Array, paint: Callable[[ImageDraw.ImageDraw], None], radius: float = 0.6) -> Array:
    """Paint lines onto an alpha layer, soften it, and return (alpha, colour) blended into ``img``."""
    layer = Image.new("RGBA", (img.shape[1], img.shape[0]), (0, 0, 0, 0))
    paint(ImageDraw.Draw(layer))
    if radius:
        layer = layer.filter(ImageFilter.GaussianBlur(radius))
    arr = np.asarray(layer, dtype=np.float32) / 255.0
    return blend(img, arr[..., :3] / np.maximum(arr[..., 3:4], 1e-3), arr[..., 3])


def stamp(im: Image.Image, label: str) -> Image.Image:
    """Write the SYNTHETIC marker (and an optional neutral label) in the corner."""
    im = im.convert("RGB")
    d = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=13)
    text = "SYNTHETIC ILLUSTRATION" + (f"  {label}" if label else "")
    d.rectangle([4, 4, 12 + d.textlength(text, font=font), 22], fill=(0, 0, 0))
    d.text((8, 6), text, fill=(255, 255, 255), font=font)
    return im


def to_image(a: Array) -> Image.Image:
    """Float array to a PIL image (RGB or L)."""
    arr = np.clip(a * 255 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(arr, "RGB" if arr.ndim == 3 else "L")


# ---------------------------------------------------------------------------------------------
# Skin illustrations (modality: photo).


def skin_irregular_pigmented(rng: np.random.Generator) -> Array:
    """Asymmetric lesion with notched border and variegated brown/black/blue-grey/red colour."""
    img = skin_base(rng)
    mask = radial_blob(rng, 230, 220, 105, wobble=0.55, harmonics=7)
    mask = np.maximum(mask, radial_blob(rng, 300, 270, 55, wobble=0.4))  # asymmetric lobe
    n1, n2 = smooth_noise(rng, 5), smooth_noise(rng, 9)
    colours = [rgb("#a86b43"), rgb("#5a3421"), rgb("#1d1411"), rgb("#6d7488"), rgb("#b5505a")]
    lesion = np.zeros_like(img)
    bands = np.digitize(0.6 * n1 + 0.4 * n2, [0.38, 0.48, 0.58, 0.66])
    for i, c in enumerate(colours):
        lesion[bands == i] = c
    lesion = blend(lesion, rgb("#e9dcd0"), (smooth_noise(rng, 12) > 0.80) * 0.7)  # pale regression areas
    edge = blur(mask, 2.5)
    return blend(img, lesion, edge * 0.95)


def skin_target_lesions(rng: np.random.Generator) -> Array:
    """Several round lesions, each with dusky centre, pale ring and red outer ring."""
    img = skin_base(rng, "#e6bb9e")
    for cx, cy, r in [(110, 120, 42), (300, 100, 36), (220, 240, 48), (90, 330, 34), (340, 320, 44), (380, 200, 26)]:
        cx, cy = cx + rng.normal(0, 4), cy + rng.normal(0, 4)
        img = blend(img, rgb("#cf5d5d"), blur(disc(cx, cy, r), 2.0) * 0.85)
        img = blend(img, rgb("#f0c7b4"), blur(disc(cx, cy, r * 0.68), 1.5) * 0.9)
        img = blend(img, rgb("#7b2f3f"), blur(disc(cx, cy, r * 0.36), 1.5) * 0.95)
        img = blend(img, rgb("#b99aa2"), blur(disc(cx, cy, r * 0.14), 1.0) * 0.7)
    return img


def skin_annular_scaly(rng: np.random.Generator) -> Array:
    """One large ring: raised red scaly advancing edge, clearer centre."""
    img = skin_base(rng, "#deb193")
    x, y = grid()
    theta = np.arctan2(y - 224, x - 224)
    r = 120 * (1 + 0.06 * np.cos(3 * theta + 0.7) + 0.04 * np.cos(5 * theta))
    d = np.hypot(x - 224, y - 224) - r
    border = np.exp(-(d / 11) ** 2)
    inner = (d < 0) * 0.18
    img = blend(img, rgb("#c9735f"), inner)
    img = blend(img, rgb("#b2423b"), border * 0.9)
    scale = (rng.random((SIZE, SIZE)) > 0.93) * (border > 0.45)
    img = blend(img, rgb("#f4ece4"), blur(scale.astype(np.float32), 0.7) * 1.6)
    return img


def skin_dermatomal_vesicles(rng: np.random.Generator) -> Array:
    """Band of erythema with grouped vesicles, ending sharply at a midline."""
    img = skin_base(rng, "#e0b595")
    x, y = grid()
    midline = 70.0
    img = blend(img, rgb("#b89a86"), (np.abs(x - midline) < 2) * 0.5)  # spinal midline crease
    centre = 170 + 0.35 * (x - midline) + 20 * np.sin((x - midline) / 90)
    band = np.exp(-((y - centre) / 46) ** 2) * (x > midline + 4)
    img = blend(img, rgb("#d06a62"), band * 0.75)
    for _ in range(15):  # clusters along the band
        cx = rng.uniform(midline + 25, SIZE - 20)
        cy = 170 + 0.35 * (cx - midline) + 20 * math.sin((cx - midline) / 90) + rng.normal(0, 18)
        for _ in range(rng.integers(6, 12)):
            vx, vy, vr = cx + rng.normal(0, 11), cy + rng.normal(0, 9), rng.uniform(3.5, 6.5)
            img = blend(img, rgb("#c24a4a"), blur(disc(vx, vy, vr + 2.5), 1.0) * 0.8)
            crusted = rng.random() < 0.2
            img = blend(img, rgb("#8a5a2c") if crusted else rgb("#f3ead9"), blur(disc(vx, vy, vr), 0.8) * 0.85)
            if not crusted:
                img = blend(img, (1.0, 1.0, 1.0), disc(vx - vr / 3, vy - vr / 3, vr / 3.5) * 0.8)
    return img


def skin_extensor_plaques(rng: np.random.Generator) -> Array:
    """Bent arm on a neutral backdrop; well-demarcated red plaques with silvery scale over the elbow."""
    img = np.ones((SIZE, SIZE, 3), np.float32) * np.asarray(rgb("#56606e"))
    x, y = grid()
    # Upper arm and forearm as two thick segments meeting at the elbow (convex side = extensor).
    def seg(ax: float, ay: float, bx: float, by: float, w: float) -> Array:
        px, py = x - ax, y - ay
        vx, vy = bx - ax, by - ay
        t = np.clip((px * vx + py * vy) / (vx * vx + vy * vy), 0, 1)
        return (np.hypot(px - t * vx, py - t * vy) <= w).astype(np.float32)

    elbow = (300, 250)
    arm = np.maximum(seg(20, 90, *elbow, 62), seg(*elbow, 60, 420, 56))
    img = blend(img, skin_base(rng), blur(arm, 1.5))
    for cx, cy, r, wob in [(335, 258, 62, 0.2), (255, 205, 34, 0.3), (230, 318, 30, 0.3), (150, 128, 24, 0.3)]:
        m = radial_blob(rng, cx, cy, r, wobble=wob) * arm
        img = blend(img, rgb("#c8575a"), blur(m, 1.0) * 0.92)
        flakes = blur(rng.random((SIZE, SIZE)).astype(np.float32), 1.2)
        scale = ((flakes > 0.5) * m * blur(m, 6)).astype(np.float32)
        img = blend(img, rgb("#e6e9ee"), blur(scale, 0.6) * 0.9)
    return img


def skin_honey_crusts(rng: np.random.Generator) -> Array:
    """Perinasal erythema covered with golden-yellow crusts."""
    img = skin_base(rng, "#ecc3a5")
    img = blend(img, rgb("#3a2320"), blur(disc(150, 70, 32, sx=1.4), 3))  # nostril
    img = blend(img, rgb("#3a2320"), blur(disc(300, 70, 32, sx=1.4), 3))
    for cx, cy, r in [(140, 170, 60), (260, 200, 48), (200, 320, 55), (340, 330, 30)]:
        base = radial_blob(rng, cx, cy, r * 1.25, wobble=0.35)
        img = blend(img, rgb("#d36a5c"), blur(base, 3) * 0.7)
        crust = radial_blob(rng, cx, cy, r, wobble=0.45) * (smooth_noise(rng, 30) > 0.35)
        tex = smooth_noise(rng, 60)
        crust_col = blend(np.ones_like(img) * np.asarray(rgb("#d9a235")), rgb("#a8701f"), tex * 0.8)
        img = blend(img, crust_col, blur(crust.astype(np.float32), 1.0) * 0.95)
    return img


def skin_expanding_ring(rng: np.random.Generator) -> Array:
    """Large oval erythema with central clearing, an inner ring and a central punctum."""
    img = skin_base(rng, "#e4b99b")
    x, y = grid()
    d = np.hypot((x - 224) / 1.15, (y - 230) / 0.95)
    img = blend(img, rgb("#d7786c"), np.exp(-((d - 150) / 18) ** 2) * 0.8)
    img = blend(img, rgb("#dd8a7c"), (d < 150) * 0.18)
    img = blend(img, rgb("#cf6a62"), np.exp(-((d - 48) / 12) ** 2) * 0.75)
    img = blend(img, rgb("#b8474a"), blur(disc(224, 230, 12), 1.5))
    img = blend(img, rgb("#3b2322"), disc(224, 230, 2.5))
    return img


def skin_face_butterfly(rng: np.random.Generator) -> Array:
    """Simple face with erythema over both cheeks and the nasal bridge, sparing the nasolabial folds."""
    img = np.ones((SIZE, SIZE, 3), np.float32) * np.asarray(rgb("#6b7a86"))
    face = disc(224, 235, 170, sx=0.78, sy=1.0)
    img = blend(img, skin_base(rng, "#e8c0a4"), blur(face, 2))
    rash = np.maximum(disc(150, 255, 52, sx=1.3, sy=0.9), disc(298, 255, 52, sx=1.3, sy=0.9))
    rash = np.maximum(rash, disc(224, 225, 26, sx=1.0, sy=1.6))
    x, y = grid()
    folds = (np.abs(np.abs(x - 224) - (40 + 0.45 * (y - 270))) < 9) & (y > 270)
    rash = rash * (1 - folds) * face
    img = blend(img, rgb("#d2655e"), blur(rash * (0.6 + 0.4 * smooth_noise(rng, 14)), 5) * 0.85)

    def paint(d: ImageDraw.ImageDraw) -> None:
        for ex in (160, 288):
            d.ellipse([ex - 30, 165, ex + 30, 190], outline=(60, 40, 35, 255), width=3)
            d.ellipse([ex - 9, 168, ex + 9, 187], fill=(70, 50, 40, 255))
        d.line([(224, 200), (214, 280), (234, 284)], fill=(150, 100, 85, 255), width=3)
        d.arc([180, 320, 268, 360], 20, 160, fill=(150, 70, 70, 255), width=4)

    return overlay_lines(img, paint)


def skin_pearly_nodule(rng: np.random.Generator) -> Array:
    """Translucent pink nodule with rolled shiny border, fine branching vessels, central crust."""
    img = skin_base(rng, "#d9ad8e")
    x, y = grid()
    d = np.hypot(x - 224, y - 224)
    img = blend(img, rgb("#e7b9b2"), np.clip((110 - d) / 12, 0, 1) * 0.85)
    img = blend(img, rgb("#fbeee8"), np.exp(-((d - 96) / 9) ** 2) * 0.75)  # rolled pearly edge
    img = blend(img, (1.0, 1.0, 1.0), np.exp(-(((x - 190) ** 2 + (y - 170) ** 2) / 300)) * 0.5)

    def paint(dr: ImageDraw.ImageDraw) -> None:
        for _ in range(9):
            a = rng.uniform(0, 2 * math.pi)
            sx, sy = 224 + 95 * math.cos(a), 224 + 95 * math.sin(a)
            vessels(dr, rng, (sx, sy), a + math.pi + rng.normal(0, 0.4), 55, 2.2, (178, 34, 46), 2, 0.35)

    img = overlay_lines(img, paint, radius=0.5)
    ulcer = radial_blob(rng, 230, 232, 30, wobble=0.35)
    img = blend(img, rgb("#7a2a24"), blur(ulcer, 1.5) * 0.9)
    img = blend(img, rgb("#3f1d16"), blur(ulcer * (smooth_noise(rng, 25) > 0.5), 1.0) * 0.8)
    return img


def skin_tense_bullae(rng: np.random.Generator) -> Array:
    """Urticarial erythematous patches carrying tense fluid-filled blisters, a few eroded."""
    img = skin_base(rng, "#e2b89d")
    plaques = (smooth_noise(rng, 5) > 0.45).astype(np.float32)
    img = blend(img, rgb("#d8877a"), blur(plaques, 8) * 0.75)
    for cx, cy, r in [(120, 140, 38), (270, 120, 28), (330, 260, 46), (170, 300, 33), (80, 380, 22), (360, 390, 26)]:
        img = blend(img, rgb("#9a6b55"), blur(disc(cx + 4, cy + 6, r), 3) * 0.5)  # shadow
        img = blend(img, rgb("#f1dfb4"), blur(disc(cx, cy, r), 1.2) * 0.88)
        img = blend(img, (1.0, 1.0, 1.0), blur(disc(cx - r / 3, cy - r / 3, r / 4), 1.5) * 0.85)
    for cx, cy, r in [(230, 220, 20), (400, 170, 16)]:
        img = blend(img, rgb("#b2403f"), blur(radial_blob(rng, cx, cy, r, 0.3), 1.0) * 0.9)
    return img


# ---------------------------------------------------------------------------------------------
# Radiograph-like illustrations (grey, bright = dense).


def film_noise(rng: np.random.Generator, img: Array, amount: float = 0.03) -> Array:
    """Film grain."""
    return np.clip(img + amount * (blur(rng.random((SIZE, SIZE)).astype(np.float32), 0.7) - 0.5), 0, 1)


def chest_base(rng: np.random.Generator) -> tuple[Array, Array, Array]:
    """Frontal chest film without bones: soft tissue, two lung fields, heart and mediastinum.

    Returns (image, right-lung mask, left-lung mask) in image coordinates (patient's right = image
    left). Bones are added last by :func:`add_bones` so they stay visible over any lucency.
    """
    x, y = grid()
    img = np.full((SIZE, SIZE), 0.08, np.float32)
    body = disc(224, 250, 210, sx=1.0, sy=1.2)
    img += 0.50 * blur(body, 8)
    rl = disc(140, 215, 115, sx=0.62, sy=1.2) * (y < 318 + 0.25 * (x - 140) ** 2 / 60)
    ll = disc(308, 215, 115, sx=0.62, sy=1.2) * (y < 328 + 0.25 * (x - 308) ** 2 / 60)
    img -= 0.34 * blur(np.maximum(rl, ll), 4)
    img += 0.30 * blur(disc(250, 300, 70, sx=1.2, sy=0.9), 6) * (y > 220)  # heart
    img += 0.30 * blur(((np.abs(x - 224) < 28) & (y < 300)).astype(np.float32), 5)  # mediastinum / spine
    return img, rl, ll


def add_bones(img: Array) -> Array:
    """Overlay posterior ribs and clavicles (semi-transparent, as on a real film)."""
    layer = Image.new("L", (SIZE, SIZE), 0)
    d = ImageDraw.Draw(layer)
    for i in range(8):
        yy = 95 + i * 34
        d.arc([40, yy - 30, 230, yy + 40], 190, 330, fill=255, width=6)
        d.arc([218, yy - 30, 408, yy + 40], 210, 350, fill=255, width=6)
    d.line([(70, 95), (205, 120)], fill=255, width=9)
    d.line([(378, 95), (243, 120)], fill=255, width=9)
    bones = np.asarray(layer.filter(ImageFilter.GaussianBlur(1.8)), dtype=np.float32) / 255.0
    return np.clip(img + 0.16 * bones, 0, 1)


def lung_markings(rng: np.random.Generator, hilum: tuple[float, float], toward: float) -> Array:
    """Alpha mask of fine branching bronchovascular markings radiating from a hilum."""
    layer = Image.new("L", (SIZE, SIZE), 0)
    d = ImageDraw.Draw(layer)
    for k in range(9):
        a = toward + (k - 4) * 0.32 + rng.normal(0, 0.08)
        vessels(d, rng, hilum, a, 110, 3, 255, 3, 0.18)
    return np.asarray(layer.filter(ImageFilter.GaussianBlur(1.0)), dtype=np.float32) / 255.0


def xray_lucent_hemithorax(rng: np.random.Generator) -> Array:
    """Chest film: left pleural space without markings, thin visceral pleural line, shrunken lung."""
    img, rl, ll = chest_base(rng)
    x, y = grid()
    img = img + 0.14 * lung_markings(rng, (190, 215), math.pi) * rl
    collapsed = blur(disc(282, 215, 62, sx=0.6, sy=1.15), 1.0) * ll
    img = img + (0.18 * lung_markings(rng, (258, 215), 0.0) + 0.08) * collapsed
    d = np.hypot((x - 282) / 0.6, (y - 215) / 1.15)
    edge = np.exp(-((d - 62) / 1.4) ** 2) * ll * (x > 268)
    img = np.where((ll > 0) & (collapsed < 0.5) & (x > 250), np.minimum(img, 0.15), img)
    img = np.clip(img + 0.25 * edge, 0, 1)
    return film_noise(rng, add_bones(img))


def xray_subdiaphragmatic_air(rng: np.random.Generator) -> Array:
    """Erect chest film with crescents of gas beneath both hemidiaphragms."""
    img, rl, ll = chest_base(rng)
    img = img + 0.14 * lung_markings(rng, (190, 215), math.pi) * rl
    img = img + 0.14 * lung_markings(rng, (258, 215), 0.0) * ll
    x, y = grid()
    for cx, top, depth in [(140, 318, 18), (308, 328, 11)]:
        dome = top + 0.25 * (x - cx) ** 2 / 60
        span = np.clip(1 - np.abs(x - cx) / 72, 0, 1) ** 0.6
        crescent = (y > dome + 4) & (y < dome + 4 + depth * span) & (np.abs(x - cx) < 72)
        img = np.where(crescent, 0.12, img)
    return film_noise(rng, add_bones(blur(img, 0.6)))


def abdomen_base(rng: np.random.Generator, scale: float = 1.0) -> Array:
    """Frontal abdominal film: soft tissue, spine, pelvis, lower ribs."""
    x, y = grid()
    img = np.full((SIZE, SIZE), 0.07, np.float32)
    img += 0.55 * blur(disc(224, 240, 200 * scale, sx=1.0, sy=1.15), 10)
    for i in range(7):  # vertebral bodies
        cy = 40 + i * 55
        img += 0.22 * blur(((np.abs(x - 224) < 24) & (np.abs(y - cy) < 21)).astype(np.float32), 2)
    img += 0.18 * blur(((np.abs(x - 224) < 60) & (y > 390)).astype(np.float32), 6)
    return img


def xray_two_gas_bubbles(rng: np.random.Generator) -> Array:
    """Infant abdominal film: one large and one smaller gas bubble in the upper abdomen, no distal gas."""
    img = abdomen_base(rng, scale=0.95)
    big = blur(radial_blob(rng, 290, 150, 62, 0.08), 3)
    small = blur(radial_blob(rng, 180, 185, 38, 0.08), 3)
    img = img * (1 - 0.78 * np.maximum(big, small))
    return film_noise(rng, img, 0.025)


def xray_stacked_loops(rng: np.random.Generator) -> Array:
    """Erect abdominal film: dilated central gas-filled loops with horizontal fluid levels, stepwise."""
    img = abdomen_base(rng)
    x, y = grid()
    loops = [(95, 125, 215, 58), (235, 105, 350, 70), (120, 205, 250, 78), (270, 215, 360, 62),
             (90, 290, 200, 66), (215, 300, 330, 78)]
    gas = np.zeros_like(img)
    wall = np.zeros_like(img)
    for i, (x0, y0, x1, _) in enumerate(loops):
        layer = Image.new("L", (SIZE, SIZE), 0)
        ImageDraw.Draw(layer).line([(x0, y0), (x1, y0 + rng.normal(0, 4))], fill=255, width=50, joint="curve")
        ImageDraw.Draw(layer).ellipse([x0 - 25, y0 - 25, x0 + 25, y0 + 25], fill=255)
        ImageDraw.Draw(layer).ellipse([x1 - 25, y0 - 25, x1 + 25, y0 + 25], fill=255)
        tube = np.asarray(layer, dtype=np.float32) / 255.0
        level = y0 + 6 + (i % 3) * 3
        gas = np.maximum(gas, tube * (y < level))
        wall = np.maximum(wall, blur(tube, 2.0) - tube * 0.98)
        for k in range(int(x0) + 10, int(x1), 13):  # valvulae conniventes across the gas column
            gas = np.where((np.abs(x - k) < 1.2) & (tube > 0) & (y < level), gas * 0.55, gas)
    img = img * (1 - 0.72 * blur(gas, 1.2)) + 0.10 * wall
    return film_noise(rng, np.clip(img, 0, 1))


# ---------------------------------------------------------------------------------------------
# Ultrasound-like illustrations (fan-shaped sector, speckle).


def us_sector(rng: np.random.Generator, tissue: Array) -> Array:
    """Apply a sector mask, speckle and depth attenuation to a tissue-echogenicity map."""
    x, y = grid()
    apex = (224, -40)
    ang = np.arctan2(x - apex[0], y - apex[1])
    r = np.hypot(x - apex[0], y - apex[1])
    sector = (np.abs(ang) < 0.62) & (r > 60) & (r < 470)
    speckle = rng.rayleigh(0.55, (SIZE, SIZE)).astype(np.float32)
    speckle = blur(np.clip(speckle / 2.0, 0, 1), 0.9) * 2.0
    att = np.clip(1.1 - r / 700, 0.35, 1)
    return np.clip(tissue * speckle * att, 0, 1) * sector


def us_concentric_target(rng: np.random.Generator) -> Array:
    """Transverse view: several alternating bright and dark concentric rings with an echogenic core."""
    tissue = np.full((SIZE, SIZE), 0.32, np.float32) + 0.1 * smooth_noise(rng, 8)
    x, y = grid()
    d = np.hypot(x - 224, (y - 230) * 1.1)
    layers = [(78, 0.12), (66, 0.55), (56, 0.10), (44, 0.60), (32, 0.14), (20, 0.75)]
    for r, v in layers:
        tissue = np.where(d < r, v, tissue)
    return us_sector(rng, blur(tissue, 1.5))


def us_empty_uterus_adnexal_ring(rng: np.random.Generator) -> Array:
    """Pelvic view: uterus with thick bright lining and no sac; separate adnexal ring; dark free fluid."""
    tissue = np.full((SIZE, SIZE), 0.28, np.float32) + 0.1 * smooth_noise(rng, 8)
    x, y = grid()
    uterus = disc(170, 210, 95, sx=1.35, sy=0.75)
    tissue = np.where(uterus > 0, 0.42, tissue)
    stripe = np.exp(-(((y - 210 - 0.1 * (x - 170)) / 8) ** 2)) * (np.abs(x - 170) < 95)
    tissue = tissue + 0.45 * stripe * uterus
    ring_m = ring(345, 200, 22, 13)
    tissue = np.where(disc(345, 200, 15) > 0, 0.05, tissue)
    tissue = np.maximum(tissue, 0.85 * ring_m)
    ovary = disc(345, 295, 40, sx=1.3, sy=0.8)
    tissue = np.where(ovary > 0, 0.38, tissue)
    for fx, fy in [(330, 290), (360, 300), (345, 280)]:
        tissue = np.where(disc(fx, fy, 7) > 0, 0.05, tissue)
    fluid = radial_blob(rng, 220, 350, 70, 0.25) * (y > 300)
    tissue = np.where(fluid > 0, 0.04 + 0.05 * smooth_noise(rng, 30), tissue)
    return us_sector(rng, blur(tissue, 1.2))


def us_stones_with_shadow(rng: np.random.Generator) -> Array:
    """Gallbladder-like sac with thick wall, bright dependent foci casting dark shadows, rim of fluid."""
    tissue = np.full((SIZE, SIZE), 0.45, np.float32) + 0.12 * smooth_noise(rng, 10)
    x, y = grid()
    sac = disc(224, 200, 95, sx=1.6, sy=0.6)
    wall = disc(224, 200, 110, sx=1.55, sy=0.62) - sac
    tissue = np.where(wall > 0, 0.55 + 0.25 * ((np.abs(y - 200) % 6) < 3), tissue)
    tissue = np.where(disc(224, 200, 122, sx=1.55, sy=0.63) - disc(224, 200, 111, sx=1.55, sy=0.62) > 0, 0.07, tissue)
    tissue = np.where(sac > 0, 0.03, tissue)
    for sx_, sy_ in [(190, 243), (225, 248), (258, 244), (240, 232)]:
        tissue = np.maximum(tissue, 1.0 * disc(sx_, sy_, 11, sx=1.2, sy=0.6))
        tissue = np.where((np.abs(x - sx_) < 10) & (y > sy_ + 8), tissue * 0.12, tissue)
    return us_sector(rng, blur(tissue, 1.0))


# ---------------------------------------------------------------------------------------------
# Eye and ear illustrations.


def fundus_frame(img: Array) -> Array:
    """Black surround outside the circular field of view."""
    return img * blur(disc(224, 224, 205), 2)[..., None]


def fundus_pale_with_red_spot(rng: np.random.Generator) -> Array:
    """Fundus with whitened, opaque posterior retina, thread-like arterioles and a red macular spot."""
    img = np.ones((SIZE, SIZE, 3), np.float32) * np.asarray(rgb("#c9623a"))
    img = img * (0.9 + 0.15 * smooth_noise(rng, 10))[..., None]
    x, y = grid()
    pale = np.exp(-((x - 230) ** 2 + (y - 224) ** 2) / (2 * 120**2))
    img = blend(img, rgb("#eadbcf"), pale * 0.85)
    img = blend(img, rgb("#f4d98f"), blur(disc(110, 215, 38, sx=0.85), 2))  # disc

    def paint(d: ImageDraw.ImageDraw) -> None:
        for a in (-0.6, 0.6, -2.4, 2.4):
            vessels(d, rng, (110, 215), a, 200, 2.0, (170, 40, 40), 2, 0.12)
        for a in (-0.45, 0.45):
            vessels(d, rng, (112, 218), a, 220, 4.5, (110, 25, 35), 2, 0.12)

    img = overlay_lines(img, paint, radius=0.6)
    img = blend(img, rgb("#a81f24"), blur(disc(262, 224, 16), 3))
    return fundus_frame(img)


def fundus_elevated_grey_folds(rng: np.random.Generator) -> Array:
    """Fundus: lower half orange-red with normal vessels; upper half grey, wrinkled, with a U-shaped break."""
    img = np.ones((SIZE, SIZE, 3), np.float32) * np.asarray(rgb("#cf6a3d"))
    img = img * (0.9 + 0.15 * smooth_noise(rng, 10))[..., None]
    img = blend(img, rgb("#f0d28a"), blur(disc(200, 250, 34, sx=0.85), 2))

    def paint(d: ImageDraw.ImageDraw) -> None:
        for a in (0.4, 1.0, 2.2, 2.8, -0.4, -2.6):
            vessels(d, rng, (200, 250), a, 190, 3.5, (140, 30, 35), 2, 0.15)

    img = overlay_lines(img, paint)
    x, y = grid()
    boundary = 190 + 18 * np.sin(x / 40)
    detached = blur((y < boundary).astype(np.float32), 4)
    folds = 0.5 + 0.5 * np.sin((y + 12 * np.sin(x / 23)) / 6)
    grey = np.stack([0.70 + 0.12 * folds, 0.68 + 0.12 * folds, 0.66 + 0.12 * folds], axis=-1)
    img = blend(img, grey, detached * 0.8)
    tear = ring(300, 95, 26, 9) * (grid()[1] > 88)
    img = blend(img, rgb("#b5322b"), blur(tear, 1.0))
    return fundus_frame(img)


def eye_branching_stain(rng: np.random.Generator) -> Array:
    """Eye under blue light with a branching green-staining corneal line ending in small bulbs."""
    img = np.ones((SIZE, SIZE, 3), np.float32) * np.asarray(rgb("#0b1030"))
    img = blend(img, rgb("#27306e"), blur(disc(224, 224, 200, sx=1.0, sy=0.62), 6))
    img = blend(img, rgb("#151b48"), blur(disc(224, 224, 115), 2))
    img = blend(img, rgb("#05060f"), blur(disc(224, 224, 40), 2))
    img = blend(img, (0.85, 0.9, 1.0), blur(disc(190, 185, 8), 2) * 0.8)  # light reflex

    def paint(d: ImageDraw.ImageDraw) -> None:
        tips: list[tuple[float, float]] = []

        def branch(x0: float, y0: float, a: float, n: int, depth: int) -> None:
            x1, y1 = x0, y0
            for _ in range(n):
                a += rng.normal(0, 0.35)
                x2, y2 = x1 + 7 * math.cos(a), y1 + 7 * math.sin(a)
                d.line([(x1, y1), (x2, y2)], fill=(70, 255, 90, 255), width=4)
                x1, y1 = x2, y2
            tips.append((x1, y1))
            if depth:
                branch(x1, y1, a + 0.7, n - 2, depth - 1)
                branch(x1, y1, a - 0.7, n - 2, depth - 1)

        branch(175, 250, -0.3, 8, 2)
        for tx, ty in tips:
            d.ellipse([tx - 5, ty - 5, tx + 5, ty + 5], fill=(70, 255, 90, 255))

    return overlay_lines(img, paint, radius=1.0)


def ear_bulging_membrane(rng: np.random.Generator) -> Array:
    """Otoscopic view: red, opaque, bulging drum with no visible landmarks or light reflex."""
    img = np.zeros((SIZE, SIZE, 3), np.float32)
    img = blend(img, rgb("#d59a86"), blur(disc(224, 224, 190), 3))  # canal wall
    x, y = grid()
    d = np.hypot(x - 224, y - 224)
    drum = blur(disc(224, 224, 140), 2)
    shade = np.clip(1 - (d / 140) ** 2, 0, 1)
    col = np.stack([0.62 + 0.30 * shade, 0.16 + 0.14 * shade, 0.14 + 0.10 * shade], axis=-1)
    col = blend(col, rgb("#e8c27a"), np.exp(-(((x - 250) ** 2 + (y - 260) ** 2) / (2 * 45**2))) * 0.45)
    img = blend(img, col, drum)
    img = blend(img, (1.0, 0.95, 0.9), np.exp(-(((x - 190) ** 2 + (y - 180) ** 2) / 400)) * 0.35)
    return img * blur(disc(224, 224, 200), 2)[..., None]


# ---------------------------------------------------------------------------------------------
# The catalogue of images: neutral file name -> (seed, drawing, extra label).


@dataclass(frozen=True)
class Spec:
    """One output image."""

    name: str
    seed: int
    draw: Callable[[np.random.Generator], Array]
    label: str = ""
    grey: bool = False


IMAGES: list[Spec] = [
    Spec("skin-001", 101, skin_irregular_pigmented),
    Spec("skin-002", 102, skin_target_lesions),
    Spec("skin-003", 103, skin_annular_scaly),
    Spec("skin-004", 104, skin_dermatomal_vesicles),
    Spec("skin-005", 105, skin_extensor_plaques),
    Spec("skin-006", 106, skin_honey_crusts),
    Spec("skin-007", 107, skin_expanding_ring),
    Spec("skin-008", 108, skin_face_butterfly),
    Spec("skin-009", 109, skin_pearly_nodule),
    Spec("skin-010", 110, skin_tense_bullae),
    Spec("xray-001", 201, xray_two_gas_bubbles, "AP supine  R", grey=True),
    Spec("xray-002", 202, xray_lucent_hemithorax, "PA  R", grey=True),
    Spec("xray-003", 203, xray_subdiaphragmatic_air, "PA erect  R", grey=True),
    Spec("xray-004", 204, xray_stacked_loops, "AP erect  R", grey=True),
    Spec("us-001", 301, us_concentric_target, "transverse", grey=True),
    Spec("us-002", 302, us_empty_uterus_adnexal_ring, "pelvis", grey=True),
    Spec("us-003", 303, us_stones_with_shadow, "RUQ", grey=True),
    Spec("fundus-001", 401, fundus_pale_with_red_spot),
    Spec("fundus-002", 402, fundus_elevated_grey_folds),
    Spec("eye-001", 501, eye_branching_stain),
    Spec("ear-001", 601, ear_bulging_membrane),
]


def render(spec: Spec) -> Image.Image:
    """Draw one image (deterministic for its seed)."""
    arr = spec.draw(np.random.default_rng(spec.seed))
    if spec.grey and arr.ndim == 3:
        arr = arr.mean(axis=2)
    im = stamp(to_image(arr), spec.label)
    if spec.grey:
        return im.convert("L")
    # A palette PNG keeps photos-like sketches well under the size limit without visible banding.
    return im.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    ap.add_argument("--only", action="append", default=[], help="render only this image name (repeatable)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    specs = [s for s in IMAGES if not args.only or s.name in args.only]
    too_big = []
    for spec in specs:
        path = args.out / f"{spec.name}.png"
        render(spec).save(path, format="PNG", optimize=True)
        size = path.stat().st_size
        if size > MAX_BYTES:
            too_big.append(f"{path.name} ({size} bytes)")
        print(f"{path.name}: {size // 1024} KB")
    if too_big:
        raise SystemExit("images over the size limit: " + ", ".join(too_big))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
