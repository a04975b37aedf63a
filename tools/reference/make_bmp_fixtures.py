"""BMP fixtures for BirderVision's BMP decoder: bitmaps of every layout Pillow reads, and what
`PIL.Image.open(p).convert("RGB")` gives for each (Pillow 13, the reference environment).

Run from the repository root:

    /work/venv-ref/bin/python tools/reference/make_bmp_fixtures.py

Writes Tests/Fixtures/vision/bmp/:
  *.bmp          a 37×23 crop of chelsea.png (odd width: every row is padded) as: Pillow's own
                 writer (RGB 24-bit, RGBA 32-bit, L, P, 1-bit) and hand-built headers — top-down,
                 BGRX 32-bit, 16-bit 5-5-5, 5-6-5 and 32-bit bit fields (40-byte header + masks,
                 V3 56-byte header), V5 124-byte header, OS/2 12-byte header, 4-bit palettes (one
                 shorter than the indices used), a pixel offset pointing right after the header.
  *.rgb          Pillow's decoded RGB bytes for each .bmp (row-major).
  expected.json  per file: width, height, and Pillow's verdict ("ok" or the exception) — the RLE8
                 file Pillow decodes and this engine refuses as unsupported, truncated and hostile
                 headers both refuse.
"""

import json
import struct
from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path("Tests/Fixtures/vision/bmp")
W, H = 37, 23


def file_header(pixel_offset: int, total: int) -> bytes:
    return b"BM" + struct.pack("<IHHI", total, 0, 0, pixel_offset)


def info_header(size: int, width: int, height: int, bits: int, compression: int = 0, colors: int = 0,
                masks: tuple = ()) -> bytes:
    h = struct.pack("<IiiHHIIiiII", size, width, height, 1, bits, compression, 0, 2835, 2835, colors, 0)
    if size > 40:
        extra = b"".join(struct.pack("<I", m) for m in masks)
        h += extra + b"\x00" * (size - 40 - len(extra))
    return h


def rows(pixel_rows: list, top_down: bool) -> bytes:
    out = b""
    for r in (pixel_rows if top_down else reversed(pixel_rows)):
        out += r + b"\x00" * ((-len(r)) % 4)
    return out


def build(header: bytes, palette: bytes, data: bytes, offset: int | None = None) -> bytes:
    start = 14 + len(header) + len(palette)
    off = start if offset is None else offset
    return file_header(off, start + len(data)) + header + palette + data


def rle_rows(index_rows: list, nibbles: bool) -> bytes:
    """A real RLE8/RLE4 encoding: encoded runs for repeats, absolute runs (word-aligned) for the
    rest, an end of line after each row and an end of bitmap."""
    out = b""
    for row in index_rows:
        row = [int(v) for v in row]
        x = 0
        while x < len(row):
            run = 1
            if nibbles:
                # a run alternates two nibbles: the same pair repeated
                while x + run < len(row) and run < 255 and row[x + run] == row[x + run % 2]:
                    run += 1
            else:
                while x + run < len(row) and run < 255 and row[x + run] == row[x]:
                    run += 1
            if run >= 3 or len(row) - x < 3:
                first = row[x]
                second = row[x + 1] if nibbles and run > 1 else first
                out += bytes([run, (first << 4 | second) if nibbles else first])
                x += run
                continue
            count = min(len(row) - x, 40)
            pixels = row[x:x + count]
            if nibbles:
                body = bytes((pixels[i] << 4) | (pixels[i + 1] if i + 1 < count else 0) for i in range(0, count, 2))
            else:
                body = bytes(pixels)
            if len(body) % 2:
                body += b"\x00"
            out += bytes([0, count]) + body
            x += count
        out += b"\x00\x00"
    return out + b"\x00\x01"


def make_rle(files: dict, idx8, palette8: bytes, idx4, palette4: bytes) -> None:
    bottom_up8 = [idx8[H - 1 - y] for y in range(H)]
    files["rle8_mixed"] = build(info_header(40, W, H, 8, compression=1, colors=200), palette8, rle_rows(bottom_up8, False))
    files["rle8_topdown"] = build(info_header(40, W, -H, 8, compression=1, colors=200), palette8,
                                  rle_rows([idx8[y] for y in range(H)], False))
    files["rle4_mixed"] = build(info_header(40, W, H, 4, compression=2, colors=16), palette4,
                                rle_rows([idx4[H - 1 - y] for y in range(H)], True))
    # a delta over part of two rows, a short row ended early, a run past the row's end (clipped),
    # an absolute run crossing into the next row, then runs to the end
    tricky = bytes([5, 7, 0, 2, 3, 1, 4, 9, 0, 0]) + bytes([W + 20, 3]) + bytes([0, 5, 1, 2, 3, 4, 5, 0])
    tricky += b"".join(bytes([W, y % 200]) + b"\x00\x00" for y in range(H)) + b"\x00\x01"
    files["rle8_escapes"] = build(info_header(40, W, H, 8, compression=1, colors=200), palette8, tricky)
    grey2 = b"\x00\x00\x00\x00\xff\xff\xff\x00"
    files["rle8_bw"] = build(info_header(40, 4, 2, 8, compression=1, colors=2), grey2, bytes([4, 1, 0, 0, 2, 0, 2, 1, 0, 0, 0, 1]))
    ramp = b"".join(bytes([i, i, i, 0]) for i in range(16))
    files["rle4_grey"] = build(info_header(40, 6, 2, 4, compression=2, colors=16), ramp,
                               bytes([6, 0x3C, 0, 0, 0, 5, 0x12, 0x34, 0x50, 0, 0, 0, 0, 1]))
    # refusals Pillow makes: the bitmap ends before every pixel is set, or the file does
    files["rle8_early_end"] = build(info_header(40, W, H, 8, compression=1, colors=200), palette8, bytes([W, 3, 0, 0, 0, 1]))
    files["rle8_cut"] = files["rle8_mixed"][: len(files["rle8_mixed"]) // 2]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    base = Image.open("Tests/Fixtures/vision/images/chelsea.png").convert("RGB").crop((100, 60, 100 + W, 60 + H))
    rgb = np.asarray(base)
    alpha = (np.arange(W * H).reshape(H, W) * 7 % 256).astype(np.uint8)
    files: dict[str, bytes] = {}

    # Pillow's own writer
    for name, im in [("pil_rgb24", base), ("pil_rgba32", Image.fromarray(np.dstack([rgb, alpha]), "RGBA")),
                     ("pil_gray8", base.convert("L")), ("pil_palette8", base.quantize(50)), ("pil_bw1", base.convert("1"))]:
        path = OUT / f"{name}.bmp"
        im.save(path)
        files[name] = path.read_bytes()

    bgr = rgb[:, :, ::-1]
    rows24 = [bytes(bgr[y].reshape(-1)) for y in range(H)]
    files["topdown24"] = build(info_header(40, W, -H, 24), b"", rows(rows24, True))
    rows32 = [bytes(np.dstack([bgr, alpha])[y].reshape(-1)) for y in range(H)]
    files["bgrx32"] = build(info_header(40, W, H, 32), b"", rows(rows32, False))
    files["v5_24"] = build(info_header(124, W, H, 24), b"", rows(rows24, False))
    files["os2_24"] = build(struct.pack("<IHHHH", 12, W, H, 1, 24), b"", rows(rows24, False))

    r5, g5, b5 = (rgb[:, :, 0] >> 3).astype(np.uint16), (rgb[:, :, 1] >> 3).astype(np.uint16), (rgb[:, :, 2] >> 3).astype(np.uint16)
    g6 = (rgb[:, :, 1] >> 2).astype(np.uint16)
    v555 = (r5 << 10) | (g5 << 5) | b5
    v565 = (r5 << 11) | (g6 << 5) | b5
    files["rgb555"] = build(info_header(40, W, H, 16), b"", rows([v555[y].astype("<u2").tobytes() for y in range(H)], False))
    files["rgb565_bitfields"] = build(info_header(40, W, H, 16, compression=3), struct.pack("<III", 0xF800, 0x7E0, 0x1F),
                                      rows([v565[y].astype("<u2").tobytes() for y in range(H)], False))
    abgr = np.dstack([alpha, bgr])  # bytes A B G R: masks R 0xFF000000, G 0xFF0000, B 0xFF00, A 0xFF
    files["abgr32_v3"] = build(info_header(56, W, H, 32, compression=3, masks=(0xFF000000, 0xFF0000, 0xFF00, 0xFF)), b"",
                               rows([bytes(abgr[y].reshape(-1)) for y in range(H)], False))

    # 4-bit palettes: a colourful one, and one of 5 entries for indices up to 15
    pal_img = base.quantize(16)
    idx = np.asarray(pal_img)
    pal = pal_img.getpalette()[: 16 * 3]
    palette = b"".join(bytes([pal[i * 3 + 2], pal[i * 3 + 1], pal[i * 3], 0]) for i in range(16))
    packed = [bytes((idx[y, 0::2][: (W + 1) // 2] << 4) | np.pad(idx[y, 1::2], (0, (W + 1) // 2 - len(idx[y, 1::2])))) for y in range(H)]
    files["pal4"] = build(info_header(40, W, H, 4, colors=16), palette, rows(packed, False))
    files["pal4_short"] = build(info_header(40, W, H, 4, colors=5), palette[: 5 * 4], rows(packed, False))
    # 8-bit with the pixel offset pointing right after the header: Pillow skips the palette itself
    idx8 = np.asarray(base.quantize(200))
    pal8 = base.quantize(200).getpalette()[: 200 * 3]
    palette8 = b"".join(bytes([pal8[i * 3 + 2], pal8[i * 3 + 1], pal8[i * 3], 0]) for i in range(200))
    files["pal8_offset_after_header"] = build(info_header(40, W, H, 8, colors=200), palette8,
                                              rows([bytes(idx8[y]) for y in range(H)], False), offset=14 + 40)

    # run-length encoded (Pillow's BmpRleDecoder)
    rle = b""
    for y in range(H):
        rle += bytes([W, int(idx8[H - 1 - y, 0])]) + b"\x00\x00"
    rle += b"\x00\x01"
    files["rle8"] = build(info_header(40, W, H, 8, compression=1, colors=200), palette8, rle)
    make_rle(files, idx8, palette8, idx, palette)

    # refusals
    whole = files["pil_rgb24"]
    files["truncated24"] = whole[: len(whole) - 200]
    files["hostile_huge"] = build(info_header(40, 0x7FFFFFFF, 0x7FFFFFFF, 24), b"", b"\x00" * 64)
    files["hostile_header0"] = b"BM" + b"\x00" * 30
    files["hostile_bits7"] = build(info_header(40, W, H, 7), b"", b"\x00" * 1024)
    files["hostile_offset_past_end"] = build(info_header(40, W, H, 24), b"", rows(rows24, False), offset=1 << 30)
    files["hostile_bitfields"] = build(info_header(40, W, H, 32, compression=3), struct.pack("<III", 0xF0F0, 0x0F0F, 0xFF0000),
                                       rows(rows32, False))

    expected = {}
    for name, blob in files.items():
        path = OUT / f"{name}.bmp"
        path.write_bytes(blob)
        try:
            with Image.open(path) as im:
                out = im.convert("RGB")
            (OUT / f"{name}.rgb").write_bytes(out.tobytes())
            expected[name] = {"width": out.width, "height": out.height, "pil": "ok"}
        except Exception as e:  # noqa: BLE001 - the verdict is what we record
            expected[name] = {"pil": f"{type(e).__name__}: {e}"}
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    for name, e in expected.items():
        print(name, e)


if __name__ == "__main__":
    main()
