"""Binary Netpbm fixtures (P4, P5, P6) for BirderVision's decoder, and what
`PIL.Image.open(p).convert("RGB")` gives for each (Pillow 13, the reference environment).

Run from the repository root:

    /work/venv-ref/bin/python tools/reference/make_netpbm_fixtures.py

Writes Tests/Fixtures/vision/netpbm/: *.ppm/*.pgm/*.pbm (a 37×23 crop of chelsea.png: Pillow's own
writer for P4/P5/P6, and hand-written headers with comments, odd whitespace, maxval 100 and 1000,
a sample above maxval, 16-bit P5, truncated data), *.rgb (Pillow's pixels) and expected.json
(width, height, Pillow's verdict, and whether this engine refuses it).
"""

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path("Tests/Fixtures/vision/netpbm")
W, H = 37, 23


def plain_samples(values: np.ndarray, per_line: int) -> bytes:
    """Decimal samples, `per_line` to a line (plain Netpbm allows any whitespace)."""
    flat = [str(int(v)) for v in values.reshape(-1)]
    return b"\n".join(" ".join(flat[i:i + per_line]).encode() for i in range(0, len(flat), per_line)) + b"\n"


def make_plain(files: dict, refuse: set, rgb: np.ndarray, gray: np.ndarray, bits: np.ndarray) -> None:
    """The plain (ASCII) kinds P1-P3, which Pillow's PpmPlainDecoder reads."""
    ones = "".join("0" if b else "1" for b in bits.reshape(-1))
    files["plain.pbm"] = b"P1\n# a plain bitmap\n37 23\n" + "\n".join(" ".join(ones[i:i + 37]) for i in range(0, len(ones), 37)).encode() + b"\n"
    # no whitespace between P1 digits, comments inside the data
    files["plain_packed.pbm"] = b"P1 37 23 " + ones[:300].encode() + b"# comment 2\r" + ones[300:].encode()
    files["plain.pgm"] = b"P2\n37 23\n255\n" + plain_samples(gray, 17)
    scaled = (rgb.astype(np.uint16) * 100 // 255)
    body = plain_samples(scaled, 12)
    # a comment splitting a sample: Pillow joins the two halves ("1#x\n2" reads 12)
    first = body.index(b" ")
    files["plain100.ppm"] = b"P3 # comment\n37 23\n100\n" + body[:first - 1] + b"#split\n" + body[first - 1:]
    files["plain1000.ppm"] = b"P3\n37\n23\n1000\n" + plain_samples(rgb.astype(np.uint32) * 1000 // 255, 9)
    files["plain_signed.pgm"] = b"P2\n2 2\n9\n+3 0_1 -0 9\n"
    for name, blob in [
        ("plain_over.ppm", b"P3\n2 1\n100\n1 2 3 4 5 101\n"),      # above maxval: Pillow refuses
        ("plain_short.pgm", b"P2\n3 3\n255\n1 2 3 4\n"),            # too few samples
        ("plain_bad.pbm", b"P1\n2 2\n0 1 2 0\n"),                    # only 0 and 1 in P1
        ("plain_word.pgm", b"P2\n2 1\n255\n12 x7\n"),               # not a number
        ("plain_long.pgm", b"P2\n2 1\n255\n000000000001 2\n"),      # a sample of 12 characters
        ("plain16.pgm", b"P2\n2 1\n1000\n1 2\n"),                   # 16-bit grey: Pillow's "I" mode
    ]:
        files[name] = blob
        refuse.add(name)


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    base = Image.open("Tests/Fixtures/vision/images/chelsea.png").convert("RGB").crop((100, 60, 100 + W, 60 + H))
    rgb = np.asarray(base)
    gray = np.asarray(base.convert("L"))
    files: dict[str, bytes] = {}
    refuse = set()
    for name, im in [("pil.ppm", base), ("pil.pgm", base.convert("L")), ("pil.pbm", base.convert("1"))]:
        im.save(OUT / name)
        files[name] = (OUT / name).read_bytes()
    files["comments.ppm"] = b"P6 # a comment\n#another\n 37\t23\r\n# c\n255\n" + rgb.tobytes()
    files["maxval100.pgm"] = b"P5\n37 23\n100\n" + (gray.astype(np.uint16) * 100 // 255).astype(np.uint8).tobytes()
    over = (rgb.astype(np.uint16) * 100 // 255).astype(np.uint8)
    over[0, 0] = [250, 101, 7]  # samples above maxval clamp
    files["maxval100_over.ppm"] = b"P6\n37 23\n100\n" + over.tobytes()
    files["maxval1000.ppm"] = b"P6\n37 23\n1000\n" + (rgb.astype(np.uint32) * 1000 // 255).astype(">u2").tobytes()
    files["gray16.pgm"] = b"P5\n37 23\n65535\n" + (gray.astype(np.uint32) * 257).astype(">u2").tobytes()
    refuse.add("gray16.pgm")
    files["truncated.ppm"] = files["pil.ppm"][:-100]
    refuse.add("truncated.ppm")
    files["hostile_huge.ppm"] = b"P6\n99999999 99999999\n255\n" + b"\x00" * 64
    refuse.add("hostile_huge.ppm")
    files["hostile_token.ppm"] = b"P6\n" + b"9" * 40 + b" 1\n255\n"
    refuse.add("hostile_token.ppm")
    make_plain(files, refuse, rgb, gray, np.asarray(base.convert("1")))

    expected = {}
    for name, blob in files.items():
        (OUT / name).write_bytes(blob)
        try:
            with Image.open(OUT / name) as im:
                out = im.convert("RGB")
            (OUT / f"{name}.rgb").write_bytes(out.tobytes())
            expected[name] = {"width": out.width, "height": out.height, "pil": "ok", "refuse": name in refuse}
        except Exception as e:  # noqa: BLE001 - the verdict is what we record
            expected[name] = {"pil": f"{type(e).__name__}: {e}", "refuse": True}
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    for name, e in expected.items():
        print(name, e)


if __name__ == "__main__":
    main()
