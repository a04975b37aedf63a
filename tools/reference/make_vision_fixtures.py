#!/usr/bin/env python3
"""Vision fixtures: decoded pixels, Birder's inference transform and hostile files.

Run from the repository root with the reference environment (PIL, torch, torchvision, birder 0.8.4):

    /work/venv-ref/bin/python tools/reference/make_vision_fixtures.py [/work/shared/images]

It writes Tests/Fixtures/vision/:
  images/    the decodable images: copies of the shared set, plus generated variants (gen_*) that
             the shared set lacks (1/2/4/16-bit PNG kinds, Adam7, tRNS, short palettes, WebP lossless /
             alpha / animated, JPEG 4:4:0, 4:1:1, RGB-coded, arithmetic, restarts, YCCK, EXIF/XMP
             orientations, a 1135-scan progressive JPEG ...). The unusual JPEGs are written by
             jpeg_variants.c (built here with `cc ... -ljpeg`).
  bad/       hostile files: the shared ones (except corrupt_crc.png, 466 KB, replaced by small
             generated equivalents) and generated ones.
  expected/  full expected arrays for a few cases, as PNG written by PIL (RGB, 8-bit).
  manifest.json
      images[]: per image, PIL's decoded RGB and Birder's transform output (uint8, before
                normalisation) at several sizes/crops: FNV-1a-64 of the bytes, FNV-1a-64 of each of
                8 row bands (to locate a mismatch), per-channel sums, and the full array's file when
                kept.
      exif[]:   `ImageOps.exif_transpose(Image.open(p)).convert("RGB")` for the orientation cases.
      luts:     torch's normalised value of every uint8 level per channel (float32 bit patterns)
                for the birder and clip rgb stats.
      tensors[]: samples (c, y, x, float32 bits) of birder's full `inference_preset` output.
      bad[]:    what PIL does with each hostile file (exception), for the record.

16-bit greyscale PNG (PIL mode I;16): PIL's convert("RGB") clips values above 255 (the image turns
white). The fixture's expectation for those files is the high byte of each sample (what PIL does for
16-bit RGB), recorded with "rule": "high-byte"; PIL's clipped hash is kept as "pil_clipped_hash".
"""
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import warnings
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torchvision.transforms import v2

import birder
from birder.data.transforms.classification import ResizeToCover, get_rgb_stats, inference_preset

SHARED = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/images")
ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "vision"
IMAGES, BAD, EXPECTED = OUT / "images", OUT / "bad", OUT / "expected"

assert birder.__version__.lstrip("v") == "0.8.4", birder.__version__

# (height, width, center_crop, simple_crop)
VARIANTS = [(224, 224, 1.0, False), (192, 256, 1.0, False), (224, 224, 0.875, False), (224, 224, 1.0, True)]
FULL_DECODED = {"chelsea_q75_420.jpg", "chelsea.webp"}
FULL_RESIZED = {("rocket.jpg", 0), ("logo.png", 0), ("coffee.png", 2), ("chelsea_wide.jpg", 1)}
TENSOR_SAMPLES = ["rocket.jpg", "chelsea_q95_444.jpg", "logo.png"]


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    arr = np.frombuffer(data, dtype=np.uint8)
    # plain loop is slow in Python for MBs; use a chunked numpy-free path via int math
    for b in arr.tobytes():
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def describe(arr: np.ndarray) -> dict:
    """Hash, 8 band hashes and channel sums of an H×W×3 uint8 array."""
    assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3, arr.shape
    h, w, _ = arr.shape
    bands = []
    for i in range(8):
        r0, r1 = h * i // 8, h * (i + 1) // 8
        bands.append(fnv1a64(arr[r0:r1].tobytes()))
    return {
        "width": w,
        "height": h,
        "hash": fnv1a64(arr.tobytes()),
        "bands": bands,
        "sums": [int(arr[..., c].sum()) for c in range(3)],
    }


def pil_rgb(path: Path) -> tuple[np.ndarray, str, dict]:
    with Image.open(path) as im:
        mode = im.mode
        extra = {}
        if mode == "I;16":
            raw = np.asarray(im).astype(np.uint16)
            extra["pil_clipped_hash"] = fnv1a64(np.asarray(im.convert("RGB")).tobytes())
            high = (raw >> 8).astype(np.uint8)
            return np.repeat(high[..., None], 3, axis=2), mode, extra
        return np.asarray(im.convert("RGB")).copy(), mode, extra


def transform_uint8(image: Image.Image, height: int, width: int, crop: float, simple: bool) -> np.ndarray:
    """Birder's inference_preset up to (not including) ToDtype/Normalize, on the PIL image."""
    base = (int(height / crop), int(width / crop))
    resize = ResizeToCover(base, interpolation=v2.InterpolationMode.BICUBIC) if simple else \
        v2.Resize(base, interpolation=v2.InterpolationMode.BICUBIC, antialias=True)
    t = v2.Compose([resize, v2.CenterCrop((height, width)), v2.PILToTensor()])
    out = t(image)
    return out.permute(1, 2, 0).contiguous().numpy()


def check_against_birder(image: Image.Image, u8: np.ndarray, height, width, crop, simple, stats) -> torch.Tensor:
    """Birder's own transform must equal our uint8 steps followed by ToDtype + Normalize."""
    full = inference_preset((height, width), stats, crop, simple)(image)
    t = torch.from_numpy(u8).permute(2, 0, 1)
    mine = v2.Normalize(mean=stats["mean"], std=stats["std"])(v2.ToDtype(torch.float32, scale=True)(t))
    assert torch.equal(full, mine), "birder's inference_preset differs from the uint8 pipeline"
    return full


# ---------------------------------------------------------------------------------------------
# PNG writing by hand (PIL cannot write 2/4-bit grey, 16-bit grey+alpha, Adam7, odd palettes)

def chunk(kind: bytes, data: bytes, crc: int | None = None) -> bytes:
    c = zlib.crc32(kind + data) if crc is None else crc
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", c & 0xFFFFFFFF)


def pack_rows(samples: np.ndarray, bit_depth: int) -> list[bytes]:
    """samples: H×W×C integers -> packed scanlines (without filter bytes)."""
    h = samples.shape[0]
    rows = []
    for y in range(h):
        row = samples[y].reshape(-1)
        if bit_depth == 16:
            rows.append(row.astype(">u2").tobytes())
        elif bit_depth == 8:
            rows.append(row.astype(np.uint8).tobytes())
        else:
            per = 8 // bit_depth
            padded = np.zeros(((len(row) + per - 1) // per) * per, dtype=np.uint8)
            padded[: len(row)] = row
            packed = np.zeros(len(padded) // per, dtype=np.uint8)
            for i in range(per):
                packed |= (padded[i::per] << (8 - bit_depth * (i + 1))).astype(np.uint8)
            rows.append(packed.tobytes())
    return rows


def write_png(path: Path, samples: np.ndarray, bit_depth: int, color_type: int, plte: bytes | None = None,
              trns: bytes | None = None, interlace: bool = False, split_idat: int = 0, idat_crc: int | None = None,
              before_idat: list[bytes] = (), after_idat: list[bytes] = ()) -> None:
    h, w = samples.shape[:2]
    if interlace:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        raw = b""
        for x0, y0, dx, dy in passes:
            sub = samples[y0::dy, x0::dx]
            if sub.shape[0] == 0 or sub.shape[1] == 0:
                continue
            raw += b"".join(b"\x00" + r for r in pack_rows(sub, bit_depth))
    else:
        raw = b"".join(b"\x00" + r for r in pack_rows(samples, bit_depth))
    data = zlib.compress(raw, 9)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, int(interlace)))
    for c in before_idat:
        out += c
    if plte is not None:
        out += chunk(b"PLTE", plte)
    if trns is not None:
        out += chunk(b"tRNS", trns)
    if split_idat:
        pieces = [data[i:i + split_idat] for i in range(0, len(data), split_idat)]
        out += chunk(b"IDAT", b"")
        for p in pieces:
            out += chunk(b"IDAT", p)
    else:
        out += chunk(b"IDAT", data, idat_crc)
    for c in after_idat:
        out += c
    out += chunk(b"IEND", b"")
    path.write_bytes(out)


def build_jpeg_tool(tmp: Path) -> Path:
    exe = tmp / "jpeg_variants"
    subprocess.run(["cc", "-O1", "-o", str(exe), str(Path(__file__).with_name("jpeg_variants.c")), "-ljpeg"], check=True)
    return exe


def jpeg_variant(tool: Path, tmp: Path, pixels: np.ndarray, out: Path, in_space: str, jpeg_space: str, h0=2, v0=2,
                 quality=90, progressive=0, arith=0, restart=0, adobe=-1) -> None:
    raw = tmp / "in.raw"
    raw.write_bytes(np.ascontiguousarray(pixels).tobytes())
    hgt, wid = pixels.shape[:2]
    subprocess.run([str(tool), str(raw), str(out), str(wid), str(hgt), in_space, jpeg_space, str(h0), str(v0),
                    str(quality), str(progressive), str(arith), str(restart), str(adobe)], check=True)


def exif_bytes(orientation: int) -> bytes:
    e = Image.Exif()
    e[0x0112] = orientation
    return e.tobytes()


def generate(tmp: Path) -> None:
    tool = build_jpeg_tool(tmp)
    chelsea = Image.open(SHARED / "chelsea.png").convert("RGB")
    small = chelsea.crop((150, 60, 217, 105))          # 67×45: odd sizes, partial MCUs
    medium = chelsea.crop((100, 40, 231, 137))         # 131×97
    s = np.asarray(small)
    m = np.asarray(medium)
    gray = np.asarray(small.convert("L"))
    rng = np.random.default_rng(7)

    # --- PNG kinds
    small.convert("1").save(IMAGES / "gen_gray1.png")
    write_png(IMAGES / "gen_gray2.png", (gray >> 6)[..., None], 2, 0)
    write_png(IMAGES / "gen_gray4.png", (gray >> 4)[..., None], 4, 0)
    g16 = (gray.astype(np.uint16) * 257 + rng.integers(0, 200, gray.shape)).astype(np.uint16)
    alpha16 = rng.integers(0, 65536, gray.shape).astype(np.uint16)
    write_png(IMAGES / "gen_gray16_alpha.png", np.stack([g16, alpha16], axis=2), 16, 4)
    rgb16 = (s.astype(np.uint16) * 257 + rng.integers(0, 250, s.shape)).astype(np.uint16)
    write_png(IMAGES / "gen_rgba16.png", np.concatenate([rgb16, alpha16[..., None]], axis=2), 16, 6)
    write_png(IMAGES / "gen_gray16_adam7.png", g16[..., None], 16, 0, interlace=True)
    write_png(IMAGES / "gen_rgb_adam7.png", m, 8, 2, interlace=True)
    write_png(IMAGES / "gen_gray8_trns.png", gray[..., None], 8, 0, trns=struct.pack(">H", int(gray[0, 0])))
    write_png(IMAGES / "gen_rgb_trns.png", s, 8, 2, trns=struct.pack(">HHH", *[int(v) for v in s[0, 0]]))
    pal = np.asarray(small.quantize(16)).astype(np.uint8)
    pal_rgb = bytes(small.quantize(16).getpalette()[: 16 * 3])
    write_png(IMAGES / "gen_palette4_adam7.png", pal[..., None], 4, 3, plte=pal_rgb, interlace=True)
    write_png(IMAGES / "gen_palette2.png", (pal % 4)[..., None], 2, 3, plte=pal_rgb[:12], trns=b"\x00\x80")
    # indices 0..15 but only 6 palette entries: PIL and libpng both read (0,0,0) past the PLTE
    write_png(IMAGES / "gen_palette_short.png", pal[..., None], 8, 3, plte=pal_rgb[:18])
    write_png(IMAGES / "gen_multi_idat.png", s, 8, 2, split_idat=97)
    good = zlib.compress(b"".join(b"\x00" + r for r in pack_rows(s, 8)), 9)
    write_png(IMAGES / "gen_idat_bad_crc.png", s, 8, 2, idat_crc=zlib.crc32(b"IDAT" + good) ^ 0x5A5A)
    write_png(IMAGES / "gen_text_chunks.png", s, 8, 2,
              before_idat=[chunk(b"tEXt", b"Comment\x00hello"), chunk(b"zTXt", b"Big\x00\x00" + zlib.compress(b"x" * 100000)),
                           chunk(b"prIv", b"private chunk")],
              after_idat=[chunk(b"tEXt", b"After\x00idat")])
    shutil.copy(SHARED / "chelsea_tiny.png", IMAGES / "gen_png_named.jpg")  # content sniffing

    # --- WebP kinds
    small.save(IMAGES / "gen_lossless.webp", lossless=True)
    rgba = np.concatenate([s, np.where(np.arange(s.shape[1])[None, :] < 30, 0, 200).astype(np.uint8)[..., None]
                           .repeat(s.shape[0], axis=0)], axis=2)
    Image.fromarray(rgba, "RGBA").save(IMAGES / "gen_alpha_lossless.webp", lossless=True, exact=True)
    Image.fromarray(rgba, "RGBA").save(IMAGES / "gen_alpha_lossy.webp", quality=80)
    frames = [small, small.transpose(Image.Transpose.FLIP_LEFT_RIGHT), small.convert("L").convert("RGB")]
    frames[0].save(IMAGES / "gen_animated.webp", save_all=True, append_images=frames[1:], duration=100, loop=0)

    # --- JPEG kinds PIL cannot write
    jpeg_variant(tool, tmp, m, IMAGES / "gen_440.jpg", "rgb", "ycc", h0=1, v0=2)
    jpeg_variant(tool, tmp, m, IMAGES / "gen_411.jpg", "rgb", "ycc", h0=4, v0=1)
    jpeg_variant(tool, tmp, m, IMAGES / "gen_rgb_coded.jpg", "rgb", "rgb", h0=1, v0=1)
    jpeg_variant(tool, tmp, m, IMAGES / "gen_arithmetic.jpg", "rgb", "ycc", arith=1)
    jpeg_variant(tool, tmp, m, IMAGES / "gen_restart.jpg", "rgb", "ycc", restart=1)
    jpeg_variant(tool, tmp, m, IMAGES / "gen_progressive_odd.jpg", "rgb", "ycc", progressive=1)
    jpeg_variant(tool, tmp, np.asarray(medium.convert("L")), IMAGES / "gen_gray_progressive.jpg", "gray", "gray",
                 h0=1, v0=1, progressive=1)
    cmyk = np.asarray(medium.convert("CMYK"))
    jpeg_variant(tool, tmp, cmyk, IMAGES / "gen_ycck.jpg", "cmyk", "ycck")
    jpeg_variant(tool, tmp, cmyk, IMAGES / "gen_cmyk_no_adobe.jpg", "cmyk", "cmyk", h0=1, v0=1, adobe=0)
    jpeg_variant(tool, tmp, s, IMAGES / "gen_many_scans.jpg", "rgb", "ycc", h0=1, v0=1, progressive=2)

    # --- EXIF / XMP orientation
    for o in range(1, 9):
        small.save(IMAGES / f"gen_exif{o}.jpg", quality=95, subsampling=0, exif=exif_bytes(o))
    small.save(IMAGES / "gen_exif6.png", exif=exif_bytes(6))
    small.save(IMAGES / "gen_exif3.webp", lossless=True, exif=exif_bytes(3))
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description tiff:Orientation="8"/></rdf:RDF></x:xmpmeta>'
    small.save(IMAGES / "gen_xmp8.jpg", quality=95, xmp=xmp)

    # --- hostile files
    tiny = (SHARED / "chelsea_tiny.png").read_bytes()
    data = bytearray((IMAGES / "gen_multi_idat.png").read_bytes())
    write_png(BAD / "gen_corrupt_idat.png", s, 8, 2)
    raw = bytearray((BAD / "gen_corrupt_idat.png").read_bytes())
    idat = raw.index(b"IDAT")
    for k in range(20, 60):
        raw[idat + 4 + k] ^= 0xFF
    (BAD / "gen_corrupt_idat.png").write_bytes(bytes(raw))
    write_png(BAD / "gen_bad_crc_text.png", s, 8, 2, before_idat=[chunk(b"tEXt", b"Comment\x00hello", crc=1234)])
    whole = (IMAGES / "gen_multi_idat.png").read_bytes()
    (BAD / "gen_truncated.png").write_bytes(whole[: len(whole) * 2 // 3])
    (BAD / "gen_no_idat.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 10, 10, 8, 2, 0, 0, 0))
                                          + chunk(b"IEND", b""))
    (BAD / "gen_zero_width.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 10, 8, 2, 0, 0, 0))
                                             + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    (BAD / "gen_signature_only.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    prog = (SHARED / "chelsea_progressive.jpg").read_bytes()
    (BAD / "gen_truncated_progressive.jpg").write_bytes(prog[: len(prog) * 3 // 5])
    (BAD / "gen_header_only.jpg").write_bytes(prog[:600])
    webp = (SHARED / "chelsea.webp").read_bytes()
    (BAD / "gen_truncated.webp").write_bytes(webp[: len(webp) // 2])
    # SOF claiming 60000×60000 (3.6e9 pixels), then junk: must be refused before allocating
    q75 = (SHARED / "chelsea_q75_420.jpg").read_bytes()
    sof = q75.index(b"\xff\xc0")
    huge = bytearray(q75)
    huge[sof + 5:sof + 9] = struct.pack(">HH", 60000, 60000)
    (BAD / "gen_huge.jpg").write_bytes(bytes(huge))
    # A lossy key frame header of 16383×16383 = 268 M pixels > 178 956 970 (no frame data follows)
    frame = bytes([0x10, 0x00, 0x00, 0x9D, 0x01, 0x2A]) + struct.pack("<HH", 16383, 16383) + bytes(6)
    payload = b"WEBP" + b"VP8 " + struct.pack("<I", len(frame)) + frame
    (BAD / "gen_huge.webp").write_bytes(b"RIFF" + struct.pack("<I", len(payload)) + payload)
    (BAD / "gen_garbage.jpg").write_bytes(b"\xff\xd8\xff" + rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
    gif = io.BytesIO()
    small.save(gif, format="GIF")
    (BAD / "gen_gif_named.jpg").write_bytes(gif.getvalue())
    (BAD / "gen_text.png").write_bytes(b"not a png at all\n" * 4)
    del tiny, data


def main() -> None:
    warnings.simplefilter("ignore")
    if OUT.exists():
        shutil.rmtree(OUT)
    for d in (IMAGES, BAD, EXPECTED):
        d.mkdir(parents=True)
    for p in sorted(SHARED.iterdir()):
        if p.is_file():
            shutil.copy(p, IMAGES / p.name)
    for p in sorted((SHARED / "bad").iterdir()):
        if p.name != "corrupt_crc.png":
            shutil.copy(p, BAD / p.name)
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))

    stats = {"birder": get_rgb_stats("birder"), "clip": get_rgb_stats("clip")}
    manifest = {"variants": [{"height": h, "width": w, "crop": c, "simple": s} for h, w, c, s in VARIANTS],
                "images": [], "exif": [], "luts": {}, "tensors": [], "bad": []}

    exif_files = sorted(p.name for p in IMAGES.iterdir() if p.name.startswith(("gen_exif", "gen_xmp"))) + ["chelsea_exif6.jpg", "chelsea.png"]
    for p in sorted(IMAGES.iterdir()):
        arr, mode, extra = pil_rgb(p)
        entry = {"file": f"images/{p.name}", "pil_mode": mode, "decoded": describe(arr), "resized": []}
        entry.update(extra)
        if mode == "I;16":
            entry["rule"] = "high-byte"
        if p.name in FULL_DECODED:
            name = f"expected/{p.name.replace('.', '_')}_decoded.png"
            Image.fromarray(arr, "RGB").save(OUT / name, optimize=True)
            entry["decoded"]["full"] = name
        image = Image.fromarray(arr, "RGB")  # identical to Image.open(p).convert("RGB") (or the high-byte rule)
        for i, (h, w, c, s) in enumerate(VARIANTS):
            u8 = transform_uint8(image, h, w, c, s)
            d = describe(u8)
            if (p.name, i) in FULL_RESIZED:
                name = f"expected/{p.name.replace('.', '_')}_v{i}.png"
                Image.fromarray(u8, "RGB").save(OUT / name, optimize=True)
                d["full"] = name
            entry["resized"].append(d)
            if i == 0 and p.name in TENSOR_SAMPLES:
                full = check_against_birder(image, u8, h, w, c, s, stats["birder"])
                g = np.random.default_rng(11)
                samples = []
                for _ in range(400):
                    cc, yy, xx = int(g.integers(0, 3)), int(g.integers(0, h)), int(g.integers(0, w))
                    bits = int(np.float32(full[cc, yy, xx].item()).view(np.uint32))
                    samples.append([cc, yy, xx, bits])
                manifest["tensors"].append({"file": f"images/{p.name}", "stats": "birder", "variant": i,
                                            "samples": samples, "sum": float(full.double().sum())})
            if p.name == "coffee.png":  # birder's transform equals ours also with simple_crop and crops
                check_against_birder(image, u8, h, w, c, s, stats["clip"])
        manifest["images"].append(entry)

    for name in exif_files:
        with Image.open(IMAGES / name) as im:
            arr = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
        manifest["exif"].append({"file": f"images/{name}", **describe(arr)})

    for key, st in stats.items():
        levels = torch.arange(256, dtype=torch.uint8).view(1, 256, 1).repeat(3, 1, 1)  # a 3×256×1 "image"
        out = v2.Normalize(mean=st["mean"], std=st["std"])(v2.ToDtype(torch.float32, scale=True)(levels))
        manifest["luts"][key] = {"mean": list(st["mean"]), "std": list(st["std"]),
                                 "bits": [[int(v) for v in out[c, :, 0].numpy().view(np.uint32)] for c in range(3)]}

    for p in sorted(BAD.iterdir()):
        try:
            with Image.open(p) as im:
                im.convert("RGB")
            result = "decodes"
        except Exception as e:  # noqa: BLE001 - recording what PIL does
            result = f"{type(e).__name__}: {e}"
        manifest["bad"].append({"file": f"bad/{p.name}", "pil": result.replace(str(p), p.name)})

    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB, {len(manifest['images'])} images, {len(manifest['bad'])} bad files)")


if __name__ == "__main__":
    main()
