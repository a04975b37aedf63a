#!/usr/bin/env python3
"""Resize fixtures: PIL's bicubic resize over hundreds of sizes, and portrait photos.

Run from the repository root with the reference environment (PIL, torch, torchvision, birder 0.8.4):

    /work/venv-ref/bin/python tools/reference/make_resize_fixtures.py [/work/shared/images]

It writes Tests/Fixtures/vision/resize/:
  sweep.json   one case per (input size, output size, seed): the SHA-256 of
               `Image.fromarray(pixels).resize((w, h), Image.BICUBIC)` (uint8 H×W×3 bytes), where
               `pixels` is the procedural image below, which the Swift test rebuilds bit for bit.
               A few cases also name a full expected PNG (for diagnosis when a hash differs).
  sweep/       those full expected PNGs.
  portraits/   portrait photos (taller than wide and than the 224 target) cut from the shared
               images with PIL, saved as JPEG or PNG.
  portraits.json  per photo: SHA-256 of PIL's decoded RGB and of Birder's transform output (uint8,
               before normalisation) at several sizes/crops, checked here to equal birder's own
               `inference_preset` after ToDtype + Normalize; plus a full expected PNG for some.

Why: Pillow 13 runs the vertical pass of a resize first when the height shrinks by more than twice
as many pixels as the width (`ImagingResampleInner`); Pillow 12 and older always ran the horizontal
pass first. The 8-bit intermediate makes the order visible (up to ±15 levels on noise), so the
sweep covers both orders, the boundary between them, and the edges of each axis.

The procedural image (keep in step with ResizeSweepTests.swift): for seed s and style s % 3,
    v(x, y, c) = T[(A[3x + c] + B[y]) & 0xFFFF]
with A (3·W entries), B (H entries) and T (65536 entries) from `tables` below; all arithmetic
is on unsigned 32-bit integers (wrapping).
"""
import hashlib
import json
import math
import random
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_vision_fixtures import check_against_birder, transform_uint8  # noqa: E402

from birder.data.transforms.classification import get_resize_to_cover_size, get_rgb_stats  # noqa: E402

SHARED = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/images")
ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "vision" / "resize"
MASK = 0xFFFFFFFF


def hash32(seed: int, stream: int, index: np.ndarray) -> np.ndarray:
    """A 32-bit integer mix (murmur3-style finaliser) of (seed, stream, index), vectorised."""
    i = np.asarray(index, dtype=np.uint64)
    h = (np.uint64(seed * 0x9E3779B1 + stream * 0x85EBCA77) + i * np.uint64(0xC2B2AE3D)) & np.uint64(MASK)
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(0x2C1B3C6D)) & np.uint64(MASK)
    h ^= h >> np.uint64(12)
    h = (h * np.uint64(0x297A2D39)) & np.uint64(MASK)
    h ^= h >> np.uint64(15)
    return h


def tables(seed: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A (3·width), B (height), T (65536) of the procedural image."""
    style = seed % 3
    i3 = np.arange(3 * width, dtype=np.uint64)
    x, c = i3 // np.uint64(3), i3 % np.uint64(3)
    y = np.arange(height, dtype=np.uint64)
    k = np.arange(65536, dtype=np.uint64)
    if style == 0:  # noise: every pixel independent, the worst case for rounding and clipping
        a = hash32(seed, 1, i3) & np.uint64(0xFFFF)
        b = hash32(seed, 2, y) & np.uint64(0xFFFF)
        t = hash32(seed, 3, k) >> np.uint64(24)
    elif style == 1:  # smooth ramps (a triangle wave of x and y), like skies and out-of-focus ground
        fx = np.uint64(1 + int(hash32(seed, 4, 0)) % 97)
        fy = np.uint64(1 + int(hash32(seed, 5, 0)) % 89)
        a = (x * fx + c * np.uint64(4000)) & np.uint64(0xFFFF)
        b = (y * fy) & np.uint64(0xFFFF)
        tri = k >> np.uint64(7)
        t = np.where(tri < 256, tri, np.uint64(511) - tri)
    else:  # hard-edged stripes: bicubic overshoots at every edge, so clipping is exercised
        fx = np.uint64(1 + int(hash32(seed, 4, 0)) % 701)
        fy = np.uint64(1 + int(hash32(seed, 5, 0)) % 409)
        a = (x * fx + c * np.uint64(1000)) & np.uint64(0xFFFF)
        b = (y * fy) & np.uint64(0xFFFF)
        band = k >> np.uint64(11)
        low = np.uint64(20) + (hash32(seed, 7, band) >> np.uint64(26))
        high = np.uint64(235) - (hash32(seed, 6, band) >> np.uint64(26))
        t = np.where((band & np.uint64(1)) == 1, high, low)
    return a, b, t


def procedural(seed: int, width: int, height: int) -> np.ndarray:
    a, b, t = tables(seed, width, height)
    index = (a[None, :] + b[:, None]) & np.uint64(0xFFFF)
    return t[index].astype(np.uint8).reshape(height, width, 3)


def vertical_first(w_in: int, h_in: int, w_out: int, h_out: int) -> bool:
    """Pillow 13's pass order (ImagingResampleInner's horizontal_first, negated)."""
    return (h_in - h_out) > 0 and (h_in - h_out) > (w_in - w_out) * 2


TARGETS = [(224, 224), (256, 256), (384, 384), (160, 224), (224, 160), (224, 288), (288, 224), (256, 192)]
PRIMES = [1, 2, 3, 5, 7, 11, 13, 31, 97, 101, 157, 223, 227, 229, 251, 257, 383, 389, 509, 521, 997, 1009, 1499]


def sweep_cases() -> list[tuple[int, int, int, int, str]]:
    """(w_in, h_in, w_out, h_out, why). Seeds are the case index."""
    rnd = random.Random(20240613)
    cases: list[tuple[int, int, int, int, str]] = []

    def log_uniform(hi: int = 1500) -> int:
        return max(1, min(hi, int(round(math.exp(rnd.uniform(0.0, math.log(hi)))))))

    # Seeded random sizes, both orientations. Mostly log-uniform (small sizes hold most edge
    # cases, and the Swift test runs unoptimised: it hashes every output with a plain SHA-256),
    # for the 224² target one in eleven uniform up to 1500 for big downscales.
    for (w, h) in TARGETS:
        n = 44 if (w, h) == (224, 224) else 3 if (w, h) == (384, 384) else 7
        for i in range(n):
            if (w, h) == (224, 224) and i % 11 == 10:
                a, b = rnd.randint(1, 1500), rnd.randint(1, 1500)
            else:
                a, b = log_uniform(), log_uniform()
            cases.append((a, b, w, h, "random"))
            cases.append((b, a, w, h, "random, transposed"))
    # Exact edges: each axis equal to, one below and one above the target.
    for (w, h) in TARGETS:
        for dw in (-1, 0, 1):
            for dh in (-1, 0, 1):
                cases.append((w + dw, h + dh, w, h, "edge"))
        for d in (-1, 0, 1):
            other = rnd.choice([1, 37, 300, 1100])
            cases.append((w + d, other, w, h, "edge width"))
            cases.append((other, h + d, w, h, "edge height"))
    # The boundary of the pass order: height shrink == 2 × width shrink, and one either side.
    for (w, h) in [(224, 224), (160, 224), (224, 288), (256, 192)]:
        for dw in (-150, -1, 0, 1, 17, 200):
            for k in (-1, 0, 1):
                dh = 2 * dw + k
                if w + dw >= 1 and h + dh >= 1:
                    cases.append((w + dw, h + dh, w, h, "pass-order boundary"))
    # Odd and prime sizes, and the degenerate 1-pixel axes.
    for i in range(24):
        a, b = rnd.choice(PRIMES), rnd.choice(PRIMES)
        w, h = TARGETS[i % len(TARGETS)]
        cases.append((a, b, w, h, "primes"))
    for (a, b) in [(1, 1), (1, 1500), (1500, 1), (2, 3), (3, 2), (1, 225), (225, 1), (1499, 1499)]:
        cases.append((a, b, 224, 224, "degenerate"))
    seen = set()
    unique = []
    for c in cases:
        if c[:4] not in seen:
            seen.add(c[:4])
            unique.append(c)
    return unique


# Cases whose full expected image is kept (for diagnosis): both orders, in styles that compress
# well as PNG: wide stripes (2, with slopes fx, fy <= 24; their edges make the pass order visible)
# and smooth ramps (1). Noise would not compress. (w_in, h_in, w_out, h_out, style)
FULL = [(278, 374, 224, 224, 2), (374, 278, 224, 224, 2), (150, 260, 224, 224, 2), (225, 226, 224, 224, 1)]


def diagnosis_seed(style: int, after: int) -> int:
    """The first seed above `after` of this style (and, for stripes, wide ones)."""
    seed = after + 1
    while True:
        fx, fy = 1 + int(hash32(seed, 4, 0)) % 701, 1 + int(hash32(seed, 5, 0)) % 409
        if seed % 3 == style and (style != 2 or (fx <= 24 and fy <= 24)):
            return seed
        seed += 1


def make_sweep() -> None:
    (OUT / "sweep").mkdir(parents=True, exist_ok=True)
    cases = [(seed, *case) for seed, case in enumerate(sweep_cases())]
    seed = 100000
    for (a, b, w, h, style) in FULL:
        seed = diagnosis_seed(style, seed)
        cases.append((seed, a, b, w, h, "diagnosis"))
    entries = []
    counts = {"vertical_first": 0, "horizontal_first": 0}
    volume = 0
    for (seed, w_in, h_in, w_out, h_out, why) in cases:
        pixels = procedural(seed, w_in, h_in)
        out = np.asarray(Image.fromarray(pixels, "RGB").resize((w_out, h_out), Image.BICUBIC))
        assert out.shape == (h_out, w_out, 3) and out.dtype == np.uint8
        vf = vertical_first(w_in, h_in, w_out, h_out)
        counts["vertical_first" if vf else "horizontal_first"] += 1
        volume += w_in * h_in
        entry = {"seed": seed, "width": w_in, "height": h_in, "out_width": w_out, "out_height": h_out,
                 "vertical_first": vf, "why": why, "sha256": hashlib.sha256(out.tobytes()).hexdigest()}
        if why == "diagnosis":
            name = f"sweep/{w_in}x{h_in}_to_{w_out}x{h_out}_seed{seed}.png"
            Image.fromarray(out, "RGB").save(OUT / name, optimize=True)
            entry["full"] = name
            entry["input_sha256"] = hashlib.sha256(pixels.tobytes()).hexdigest()
        entries.append(entry)
    # The formula's own check values, so the Swift generator is tested apart from the resize.
    probes = []
    for seed, (w, h) in [(0, (5, 4)), (1, (7, 3)), (2, (3, 9)), (3, (300, 200))]:
        probes.append({"seed": seed, "width": w, "height": h,
                       "sha256": hashlib.sha256(procedural(seed, w, h).tobytes()).hexdigest()})
    doc = {
        "generator": "tools/reference/make_resize_fixtures.py",
        "pillow": Image.__version__,
        "rule": "Image.fromarray(procedural(seed, width, height)).resize((out_width, out_height), Image.BICUBIC)",
        "counts": counts,
        "probes": probes,
        "cases": entries,
    }
    (OUT / "sweep.json").write_text(json.dumps(doc, indent=0) + "\n")
    print(f"sweep: {len(entries)} cases ({counts}), {volume / 1e6:.1f} M input pixels")


# Portraits: (output name, source, how to cut it). Every one is taller than wide and than 224.
def portrait_sources() -> list[tuple[str, Image.Image]]:
    def load(name: str) -> Image.Image:
        with Image.open(SHARED / name) as im:
            return im.convert("RGB") if im.mode not in ("RGB", "L") else im.copy()

    rocket, coffee, chelsea, camera = load("rocket.jpg"), load("coffee.png"), load("chelsea.png"), load("camera.png")
    return [
        # The example size (taller than 224 in both axes, vertical pass first).
        ("coffee_278x374.jpg", coffee.crop((150, 0, 550, 400)).resize((278, 374), Image.LANCZOS)),
        # A camera-style portrait: the rocket turned a quarter (427×640, vertical first).
        ("rocket_portrait.jpg", rocket.transpose(Image.Transpose.ROTATE_90)),
        # Same ratio, larger: 480×640 runs the horizontal pass first (416 ≤ 2 × 256).
        ("rocket_480x640.jpg", rocket.transpose(Image.Transpose.ROTATE_270).resize((480, 640), Image.LANCZOS)),
        # Narrower than the target, taller: upscale in x, downscale in y.
        ("chelsea_200x300.jpg", chelsea.crop((130, 0, 330, 300))),
        ("chelsea_150x260.png", chelsea.crop((100, 20, 250, 280))),
        # Greyscale portrait (PIL mode L).
        ("camera_256x512.jpg", camera.crop((128, 0, 384, 512))),
        # A tall strip, far from square.
        ("coffee_strip_120x600.jpg", coffee.resize((600, 900), Image.LANCZOS).crop((240, 150, 360, 750))),
    ]


VARIANTS = [(224, 224, 1.0, False), (192, 256, 1.0, False), (224, 224, 0.875, False), (224, 224, 1.0, True),
            (288, 224, 1.0, False)]
FULL_PORTRAITS = {"rocket_portrait.jpg"}


def make_portraits() -> None:
    folder = OUT / "portraits"
    folder.mkdir(parents=True, exist_ok=True)
    stats = get_rgb_stats("birder")
    entries = []
    for name, image in portrait_sources():
        path = folder / name
        if name.endswith(".jpg"):
            image.save(path, quality=88)
        else:
            image.save(path, optimize=True)
        with Image.open(path) as im:
            mode = im.mode
            rgb = im.convert("RGB")
        w, h = rgb.size
        assert h > w and h > 224, (name, rgb.size)
        decoded = np.asarray(rgb)
        resized = []
        for (height, width, crop, simple) in VARIANTS:
            u8 = transform_uint8(rgb, height, width, crop, simple)
            check_against_birder(rgb, u8, height, width, crop, simple, stats)
            if crop == 1.0 and not simple:  # the plain resize: Birder's transform is PIL's resize
                direct = np.asarray(rgb.resize((width, height), Image.BICUBIC))
                assert np.array_equal(direct, u8), name
            base = (int(height / crop), int(width / crop))
            out_h, out_w = get_resize_to_cover_size((h, w), base) if simple else base
            digest = {"height": height, "width": width, "crop": crop, "simple": simple,
                      "resize_height": out_h, "resize_width": out_w, "vertical_first": vertical_first(w, h, out_w, out_h),
                      "sha256": hashlib.sha256(u8.tobytes()).hexdigest()}
            if name in FULL_PORTRAITS and (height, width, crop, simple) == (224, 224, 1.0, False):
                full = f"portraits/expected_{Path(name).stem}_224.png"
                Image.fromarray(u8, "RGB").save(OUT / full, optimize=True)
                digest["full"] = full
            resized.append(digest)
        entries.append({"file": f"portraits/{name}", "pil_mode": mode, "width": w, "height": h,
                        "decoded_sha256": hashlib.sha256(decoded.tobytes()).hexdigest(), "resized": resized})
        print(f"portrait {name}: {w}×{h} {mode}, {path.stat().st_size} bytes")
    doc = {"generator": "tools/reference/make_resize_fixtures.py", "pillow": Image.__version__, "images": entries}
    (OUT / "portraits.json").write_text(json.dumps(doc, indent=1) + "\n")


def main() -> None:
    make_sweep()
    make_portraits()


if __name__ == "__main__":
    main()
