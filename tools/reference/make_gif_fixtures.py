"""GIF fixtures for BirderVision's decoder, and what `PIL.Image.open(p).convert("RGB")` gives for
each (Pillow 13, the reference environment): the first frame, as Pillow composes it.

Run from the repository root:

    /work/venv-ref/bin/python tools/reference/make_gif_fixtures.py

Writes Tests/Fixtures/vision/gif/: *.gif (a 37×23 crop of chelsea.png written by Pillow —
interlaced, not interlaced, greyscale, two frames — and hand-made files: a frame smaller than the
screen with a transparent index, a frame past the screen, a local palette over the global one,
no palette, indices past a short palette, a grey-ramp palette, a 12-bit code table that fills up,
a tiny interlaced frame, and damaged data), *.rgb (Pillow's pixels) and expected.json (width,
height, and Pillow's verdict: "ok" or the exception).
"""

import json
import shutil
import struct
from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path("Tests/Fixtures/vision/gif")
W, H = 37, 23


def lzw(indices: list[int], min_code_size: int, clear_every: int | None = None) -> bytes:
    """A standard GIF LZW encoder (variable code width, optional periodic clears)."""
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    codes: list[tuple[int, int]] = []  # (code, width)
    width = min_code_size + 1
    table = {(i,): i for i in range(clear)}
    next_code = end + 1
    codes.append((clear, width))
    run: tuple[int, ...] = ()
    emitted = 0
    for value in indices:
        candidate = run + (value,)
        if candidate in table:
            run = candidate
            continue
        codes.append((table[run], width))
        emitted += 1
        if next_code < 4096:
            table[candidate] = next_code
            next_code += 1
            # the decoder adds each entry one code later, so it widens one code later too
            if next_code == (1 << width) + 1 and width < 12:
                width += 1
        run = (value,)
        if clear_every and emitted % clear_every == 0:
            codes.append((table[run], width))
            codes.append((clear, width))
            table = {(i,): i for i in range(clear)}
            next_code, width, run = end + 1, min_code_size + 1, ()
    if run:
        codes.append((table[run], width))
    codes.append((end, width))
    bits, count, out = 0, 0, bytearray()
    for code, size in codes:
        bits |= code << count
        count += size
        while count >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            count -= 8
    if count:
        out.append(bits & 0xFF)
    return bytes(out)


def sub_blocks(data: bytes) -> bytes:
    return b"".join(bytes([len(data[i:i + 255])]) + data[i:i + 255] for i in range(0, len(data), 255)) + b"\x00"


def palette_bytes(colors: list[tuple[int, int, int]], entries: int) -> bytes:
    colors = colors + [(0, 0, 0)] * (entries - len(colors))
    return b"".join(bytes(c) for c in colors[:entries])


def gif(screen: tuple[int, int], frames: list[dict], global_palette: bytes | None = None, background: int = 0) -> bytes:
    """A GIF89a: each frame dict has indices (row-major list), size, offset, optional local
    palette, transparency, interlace, min_code_size, data (raw LZW bytes, overriding)."""
    flags = 0
    if global_palette is not None:
        flags = 0x80 | 0x70 | (int(np.log2(len(global_palette) // 3)) - 1)
    out = b"GIF89a" + struct.pack("<HHBBB", screen[0], screen[1], flags, background, 0) + (global_palette or b"")
    for f in frames:
        if f.get("transparency") is not None:
            out += b"\x21\xf9\x04" + bytes([1]) + struct.pack("<H", 0) + bytes([f["transparency"], 0])
        w, h = f["size"]
        x, y = f.get("offset", (0, 0))
        local = f.get("palette")
        lflags = (0x40 if f.get("interlace") else 0)
        if local is not None:
            lflags |= 0x80 | (int(np.log2(len(local) // 3)) - 1)
        out += b"\x2c" + struct.pack("<HHHHB", x, y, w, h, lflags) + (local or b"")
        code_size = f.get("min_code_size", 8)
        indices = f.get("indices")
        if f.get("interlace") and indices is not None:
            rows = [indices[r * w:(r + 1) * w] for r in range(h)]
            order = list(range(0, h, 8)) + list(range(4, h, 8)) + list(range(2, h, 4)) + list(range(1, h, 2))
            indices = [v for r in order for v in rows[r]]
        data = f.get("data") or lzw(indices, code_size, f.get("clear_every"))
        out += bytes([code_size]) + sub_blocks(data)
    return out + b"\x3b"


def _write(path: Path, blob: bytes) -> Path:
    path.write_bytes(blob)
    return path


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    base = Image.open("Tests/Fixtures/vision/images/chelsea.png").convert("RGB").crop((100, 60, 100 + W, 60 + H))
    files: dict[str, bytes] = {}
    # Pillow's own writer: interlaced by default (sides of 16 or more), not interlaced, greyscale
    # (an identity grey palette, which Pillow reads back as "L"), and two frames.
    for name, im, kwargs in [("pil.gif", base, {}), ("pil_flat.gif", base, {"interlace": False}),
                             ("pil_grey.gif", base.convert("L"), {}),
                             ("pil_two_frames.gif", base, {"save_all": True, "append_images": [base.rotate(180)]})]:
        im.save(OUT / name, **kwargs)
        files[name] = (OUT / name).read_bytes()

    q = base.quantize(64)
    idx = [int(v) for v in np.asarray(q).reshape(-1)]
    pal = q.getpalette()[: 64 * 3]
    palette64 = bytes(pal)
    colors4 = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (250, 250, 0)]
    # a 20×10 frame at (5, 4) of a 37×23 screen, index 3 transparent: the rest is index 3's colour
    small = [(x * 3 + y) % 4 for y in range(10) for x in range(20)]
    files["offset_transparent.gif"] = gif((W, H), [{"indices": small, "size": (20, 10), "offset": (5, 4), "transparency": 3,
                                                     "min_code_size": 2}], palette_bytes(colors4, 4))
    # the same without transparency: the rest is index 0
    files["offset_opaque.gif"] = gif((W, H), [{"indices": small, "size": (20, 10), "offset": (5, 4), "min_code_size": 2}],
                                     palette_bytes(colors4, 4))
    # a frame reaching past the screen: the image grows to hold it
    files["past_screen.gif"] = gif((16, 8), [{"indices": small, "size": (20, 10), "offset": (3, 2), "min_code_size": 2}],
                                   palette_bytes(colors4, 4))
    # a local palette over the global one
    files["local_palette.gif"] = gif((W, H), [{"indices": idx, "size": (W, H), "palette": palette64}], palette_bytes(colors4, 4))
    # no palette at all: indices are grey levels
    files["no_palette.gif"] = gif((W, H), [{"indices": [(v * 4) % 256 for v in idx], "size": (W, H)}])
    # indices past a 4-entry palette
    files["past_palette.gif"] = gif((8, 4), [{"indices": [i * 7 % 256 for i in range(32)], "size": (8, 4)}],
                                    palette_bytes(colors4, 4))
    # a 4-entry grey ramp (0,1,2,3): not "needed", so Pillow reads greyscale
    files["ramp_palette.gif"] = gif((8, 4), [{"indices": [i % 4 for i in range(32)], "size": (8, 4), "min_code_size": 2}],
                                    palette_bytes([(i, i, i) for i in range(4)], 4))
    # noise over 256 colours, 96×96: the code table fills to 4096 entries and stays full
    rng = np.random.default_rng(5)
    noise = [int(v) for v in rng.integers(0, 256, 96 * 96)]
    full_palette = palette_bytes([(i, 255 - i, (i * 37) % 256) for i in range(256)], 256)
    files["table_full.gif"] = gif((96, 96), [{"indices": noise, "size": (96, 96)}], full_palette)
    files["clears.gif"] = gif((96, 96), [{"indices": noise, "size": (96, 96), "clear_every": 300}], full_palette)
    # interlaced with fewer than 8 rows
    files["tiny_interlaced.gif"] = gif((5, 3), [{"indices": list(range(15)), "size": (5, 3), "interlace": True}],
                                       palette_bytes([(i * 16, i * 8, 255 - i * 16) for i in range(16)], 16))
    # damaged: the data ends (end code) before the frame is full; the file is cut; a code past the table
    short = lzw(small[:50], 2)
    files["early_end.gif"] = gif((20, 10), [{"size": (20, 10), "data": short, "min_code_size": 2}], palette_bytes(colors4, 4))
    files["cut.gif"] = files["pil.gif"][: len(files["pil.gif"]) // 2]
    files["bad_code.gif"] = gif((4, 4), [{"size": (4, 4), "data": bytes([0x04 | (0x3F << 3) & 0xFF, 0x3F >> 5, 0, 0]),
                                          "min_code_size": 2}], palette_bytes(colors4, 4))
    files["header_only.gif"] = files["pil.gif"][:13]

    # the encoder round-trips through Pillow on the full-frame hand-made files
    for name, want in [("table_full.gif", noise), ("clears.gif", noise), ("local_palette.gif", idx)]:
        with Image.open(OUT / name if (OUT / name).exists() else _write(OUT / name, files[name])) as im:
            assert list(np.asarray(im).reshape(-1)) == want, name

    expected = {}
    for name, blob in files.items():
        (OUT / name).write_bytes(blob)
        try:
            with Image.open(OUT / name) as im:
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
