"""TIFF fixtures for BirderVision's TIFF decoder (libtiff): files Pillow writes, and what
`PIL.Image.open(p).convert("RGB")` gives for each (Pillow 13, the reference environment).

Run from the repository root:

    /work/venv-ref/bin/python tools/reference/make_tiff_fixtures.py

Writes Tests/Fixtures/vision/tiff/:
  *.tif          a 37×23 crop of chelsea.png saved by Pillow as RGB (uncompressed, LZW, deflate,
                 PackBits, JPEG, 5 rows per strip), RGBA (unassociated alpha), L, L min-is-white
                 (hand-patched tag), LA, 1-bit (Group 4 and uncompressed), P (palette), and a two-page
                 file (the first page is read); tiled and big-endian copies made with libtiff's
                 tiffcp when it is installed (libtiff-tools; not on the machine that made these).
  *.rgb          Pillow's decoded RGB bytes for each file.
  expected.json  per file: width, height, Pillow's verdict, and whether this engine should refuse
                 it ("refuse": 16-bit, CMYK, a truncated file, a header without an image).
"""

import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path("Tests/Fixtures/vision/tiff")
W, H = 37, 23


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    base = Image.open("Tests/Fixtures/vision/images/chelsea.png").convert("RGB").crop((100, 60, 100 + W, 60 + H))
    rgb = np.asarray(base)
    alpha = (np.arange(W * H).reshape(H, W) * 7 % 256).astype(np.uint8)
    rgba = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    refuse = set()

    def save(name, im, **kw):
        im.save(OUT / f"{name}.tif", **kw)

    save("rgb_raw", base)
    save("rgb_lzw", base, compression="tiff_lzw")
    save("rgb_deflate", base, compression="tiff_adobe_deflate")
    save("rgb_packbits", base, compression="packbits")
    save("rgba_lzw", rgba, compression="tiff_lzw")
    save("gray_lzw", base.convert("L"), compression="tiff_lzw")
    save("gray_alpha", base.convert("LA"), compression="tiff_deflate")
    save("bilevel_g4", base.convert("1"), compression="group4")
    save("bilevel_raw", base.convert("1"))
    save("palette", base.quantize(40), compression="tiff_lzw")
    base.save(OUT / "two_pages.tif", save_all=True, append_images=[base.transpose(Image.Transpose.ROTATE_180)], compression="tiff_lzw")
    save("rows_per_strip_5", base, compression="tiff_lzw", strip_size=5 * W * 3)
    save("rgb_jpeg", base, compression="jpeg")  # Pillow keeps RGB photometric inside (libtiff's JPEG codec)
    Image.fromarray(np.ascontiguousarray(rgb[:, :, 0].astype(np.uint16) * 257)).save(OUT / "gray16.tif")
    refuse.add("gray16")
    base.convert("CMYK").save(OUT / "cmyk.tif")
    refuse.add("cmyk")
    whole = (OUT / "rgb_raw.tif").read_bytes()
    (OUT / "truncated.tif").write_bytes(whole[: len(whole) // 2])
    refuse.add("truncated")
    (OUT / "hostile_header_only.tif").write_bytes(b"II*\x00\x08\x00\x00\x00")
    refuse.add("hostile_header_only")

    # min-is-white: an uncompressed L file with its PhotometricInterpretation patched from 1 to 0
    gray = io.BytesIO()
    base.convert("L").save(gray, format="TIFF")
    data = bytearray(gray.getvalue())
    ifd = int.from_bytes(data[4:8], "little")
    for i in range(int.from_bytes(data[ifd:ifd + 2], "little")):
        at = ifd + 2 + 12 * i
        if int.from_bytes(data[at:at + 2], "little") == 262:
            data[at + 8:at + 10] = (0).to_bytes(2, "little")
    (OUT / "gray_miniswhite.tif").write_bytes(bytes(data))

    tiffcp = shutil.which("tiffcp")
    if tiffcp:
        subprocess.run([tiffcp, "-t", "-w", "16", "-l", "16", str(OUT / "rgb_lzw.tif"), str(OUT / "tiled_rgb.tif")], check=True)
        subprocess.run([tiffcp, "-B", "-c", "lzw", str(OUT / "rgb_raw.tif"), str(OUT / "bigendian_rgb.tif")], check=True)

    expected = {}
    for path in sorted(OUT.glob("*.tif")):
        name = path.stem
        try:
            with Image.open(path) as im:
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
