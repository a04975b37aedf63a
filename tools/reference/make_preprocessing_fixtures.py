"""Birder's embeddings of the CLI fixture photos under its preprocessing options
(`--center-crop`, `--simple-crop`), for the library's parity tests (Tests/BirderTests/PreprocessingTests.swift).

Run from the repository root with the reference environment (after make_cli_fixtures.py):

    /work/venv-ref/bin/python tools/reference/make_preprocessing_fixtures.py

Writes Tests/Fixtures/cli/preprocessing.json: for each (center_crop, simple_crop) case, the
embedding of each photo as `birder.scripts.predict` computes it: PIL decode, Birder's
`inference_preset(size, rgb_stats, center_crop, simple_crop)`, `net.embedding`, on the tiny
rdnet_t of Tests/Fixtures/cli/models (rebuilt here from the same seeds; checked equal to the
checkpoint's weights).
"""

import json
import sys
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import seeded_params  # noqa: E402
from make_cli_fixtures import CLASSES, CONFIG, OUT, PHOTOS, RGB_STATS, SIZE  # noqa: E402

from birder.data.transforms.classification import inference_preset  # noqa: E402
from birder.model_registry import registry  # noqa: E402

CASES = [(0.875, False), (0.875, True), (1.0, True), (0.5, False)]


def main() -> None:
    net = registry.net_factory("rdnet_t", len(CLASSES), 3, config=CONFIG, size=SIZE).eval()
    seeded_params.fill_module(net, seed=11)
    saved = torch.load(OUT / "models/rdnet_t_tiny-test.pt", map_location="cpu", weights_only=True)["state"]
    for name, value in net.state_dict().items():
        assert torch.equal(saved[name], value), name
    cases = []
    with torch.inference_mode():
        for crop, simple in CASES:
            transform = inference_preset(SIZE, RGB_STATS, crop, simple)
            images = []
            for name in PHOTOS:
                x = transform(Image.open(OUT / "photos" / name).convert("RGB")).unsqueeze(0)
                images.append({"sample": name, "embedding": net.embedding(x)[0].tolist()})
            cases.append({"center_crop": crop, "simple_crop": simple, "images": images})
    (OUT / "preprocessing.json").write_text(json.dumps({"cases": cases}, indent=1))
    print(f"wrote {OUT / 'preprocessing.json'}")


if __name__ == "__main__":
    main()
