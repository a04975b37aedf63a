#!/usr/bin/env python3
"""PNG files cut near their end: what PIL does with each cut.

Run from the repository root with the reference environment:

    /work/venv-ref/bin/python tools/reference/make_png_tail_fixtures.py

Writes Tests/Fixtures/vision/png_tail.json: for a few committed PNGs (Tests/Fixtures/vision/images),
every cut from 12 bytes before the end of the last IDAT chunk's data to the whole file, and
whether `Image.open(f).load()` accepts it. PIL accepts a file whose pixels are complete even when
the last IDAT chunk lacks its CRC or the last bytes of its zlib stream, refuses one whose chunk
after the image data (tEXt here) is cut inside its data, and accepts any cut at a chunk boundary or
inside a CRC.
"""
import io
import json
import struct
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "Tests" / "Fixtures" / "vision" / "images"
FILES = ["gen_text_chunks.png", "gen_multi_idat.png", "gen_rgb_adam7.png", "gen_palette_short.png"]


def end_of_last_idat_data(data: bytes) -> int:
    pos, end = 8, 0
    while pos + 8 <= len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        if data[pos + 4:pos + 8] == b"IDAT":
            end = pos + 8 + length
        pos += 12 + length
    return end


def main() -> None:
    entries = []
    for name in FILES:
        data = (IMAGES / name).read_bytes()
        end = end_of_last_idat_data(data)
        first = end - 12
        verdicts = ""
        for cut in range(first, len(data) + 1):
            try:
                with Image.open(io.BytesIO(data[:cut])) as im:
                    im.load()
                verdicts += "A"
            except Exception:  # noqa: BLE001 - any refusal counts
                verdicts += "R"
        entries.append({"file": f"images/{name}", "size": len(data), "idat_data_end": end, "first_cut": first,
                        "pil": verdicts})
        print(name, verdicts)
    out = ROOT / "Tests" / "Fixtures" / "vision" / "png_tail.json"
    out.write_text(json.dumps({"generator": "tools/reference/make_png_tail_fixtures.py", "pillow": Image.__version__,
                               "files": entries}, indent=1) + "\n")


if __name__ == "__main__":
    main()
