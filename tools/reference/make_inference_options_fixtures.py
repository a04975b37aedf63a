"""Birder 0.8.4's numbers for predict's inference options — `--save-logits`, `--size`, `--tta` —
on the CLI fixture photos, for Tests/BirderTests/InferenceOptionsTests.swift and
Tests/BirderCLITests/InferenceOptionsCLITests.swift.

Run from the repository root with the reference environment (after make_cli_fixtures.py):

    /work/venv-ref/bin/python tools/reference/make_inference_options_fixtures.py

Writes into Tests/Fixtures/cli/:
  models/vit_b16_pn_tiny-test.pt  a tiny vit_b16_pn (config override, seeded parameters, 3 classes,
                                  64×64) saved by fs_ops.checkpoint_model, for --size on a ViT
  inference_options.json          per photo (the CLI's input order):
    logits       rdnet tiny classifier logits (`infer_batch(..., return_logits=True)`)
    tta          `infer_batch(..., tta=True)`: probabilities, and logits (return_logits=True)
    sizes        embeddings after `net.adjust_size(size)` (what `load_model(new_size=...)` does)
                 with `inference_preset(size, ...)`, for the rdnet (96×96, 64×128) and the ViT
                 (its own 64×64, then 96×128, whose position grid is resized)
    tv           embeddings with Birder's `tv` image loader (`tv_rgb_loader`: torchvision's
                 decode_image, then inference_preset on the uint8 tensor) at the checkpoint's size,
                 with center crop 0.875, and with simple crop; the script checks that torchvision
                 decodes each photo to the same pixels as PIL
  ../vision/resize/tv_sweep.json  torchvision's uint8 bicubic resize (v2.Resize(..., BICUBIC,
                 antialias=True) on a uint8 tensor: PyTorch's AVX2 int16 kernel) of the resize
                 sweep's procedural images (make_resize_fixtures.py), as SHA-256 of the uint8 output
  birder_logits.csv / birder_logits.parquet / birder_output.parquet
                 Birder's own `save_logits`, `save_logits_parquet` and `save_output_parquet`
                 (with labels, as `--save-labels`) for the photos laid out as an ImageFolder
                 (labelled/Coleoptera/a_chelsea.jpg, labelled/Lepidoptera/b_coffee.png,
                 labelled/unsorted/c_chelsea.webp: labels 0, 3, -1), as the CLI test lays them out.

With --check-swift FILE..., reads each FILE (written by `birder predict --save-logits/--save-output
X.parquet`) with pyarrow and polars and prints the schema and rows they see.
"""

import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import seeded_params  # noqa: E402
from make_cli_fixtures import CLASSES, CONFIG, OUT, PHOTOS, RGB_STATS, SIZE  # noqa: E402

from birder.common import fs_ops  # noqa: E402
from birder.conf import settings  # noqa: E402
from birder.data.transforms.classification import inference_preset  # noqa: E402
from birder.inference.classification import infer_batch  # noqa: E402
from birder.model_registry import registry  # noqa: E402
from birder.net.base import get_signature  # noqa: E402
from birder.scripts.predict import _init_parquet_writer, save_logits, save_logits_parquet, save_output_parquet  # noqa: E402
from birder.data.datasets.directory import tv_rgb_loader  # noqa: E402
from make_resize_fixtures import procedural  # noqa: E402

TV_CASES = [(1.0, False), (0.875, False), (1.0, True)]
# (seed, width, height, out_width, out_height): up, down, mixed, odd ratios, big reductions
TV_SWEEP = [(0, 37, 23, 64, 64), (1, 640, 480, 64, 64), (2, 301, 517, 224, 224), (3, 64, 64, 300, 17), (4, 1000, 30, 77, 77),
            (5, 224, 224, 256, 256), (6, 97, 1501, 224, 224), (7, 800, 800, 99, 313), (8, 3, 5, 224, 224), (9, 257, 255, 256, 256)]

VIT_CONFIG = {"num_layers": 2, "num_heads": 2, "hidden_dim": 16, "mlp_dim": 32, "drop_path_rate": 0.0}
VIT_CLASSES = ["alpha", "beta", "gamma"]
RDNET_SIZES = [(96, 96), (64, 128)]
VIT_SIZES = [(64, 64), (96, 128)]
FOLDERS = ["labelled/Coleoptera/a_chelsea.jpg", "labelled/Lepidoptera/b_coffee.png", "labelled/unsorted/c_chelsea.webp"]
LABELS = [0, 3, -1]


def rdnet() -> torch.nn.Module:
    net = registry.net_factory("rdnet_t", len(CLASSES), 3, config=CONFIG, size=SIZE).eval()
    seeded_params.fill_module(net, seed=11)
    saved = torch.load(OUT / "models/rdnet_t_tiny-test.pt", map_location="cpu", weights_only=True)["state"]
    for name, value in net.state_dict().items():
        assert torch.equal(saved[name], value), name
    return net


def vit() -> torch.nn.Module:
    net = registry.net_factory("vit_b16_pn", len(VIT_CLASSES), 3, config=VIT_CONFIG, size=SIZE).eval()
    seeded_params.fill_module(net, seed=21)
    signature = get_signature((1, 3, *SIZE), len(VIT_CLASSES))
    with tempfile.TemporaryDirectory() as tmp:
        settings.MODELS_DIR = Path(tmp)
        fs_ops.checkpoint_model("vit_b16_pn_tiny-test", None, net, signature,
                                {name: i for i, name in enumerate(VIT_CLASSES)}, RGB_STATS,
                                None, None, None, None, external_config=VIT_CONFIG)
        shutil.copy(fs_ops.model_path("vit_b16_pn_tiny-test"), OUT / "models/vit_b16_pn_tiny-test.pt")
    return net


def image(name: str) -> Image.Image:
    return Image.open(OUT / "photos" / name).convert("RGB")


def embeddings_at(net: torch.nn.Module, size: tuple[int, int]) -> list[list[float]]:
    net = net if size == tuple(net.size) else _adjusted(net, size)
    transform = inference_preset(size, RGB_STATS, 1.0)
    return [net.embedding(transform(image(name)).unsqueeze(0))[0].tolist() for name in PHOTOS]


def _adjusted(net: torch.nn.Module, size: tuple[int, int]) -> torch.nn.Module:
    import copy

    other = copy.deepcopy(net)
    other.adjust_size(size)
    return other


def tv_cases(net: torch.nn.Module) -> list[dict]:
    for name in PHOTOS:
        decoded = tv_rgb_loader(str(OUT / "photos" / name))
        pil = torch.from_numpy(np.asarray(image(name))).permute(2, 0, 1)
        assert torch.equal(decoded, pil), f"torchvision and PIL decode {name} differently"
    cases = []
    for crop, simple in TV_CASES:
        transform = inference_preset(SIZE, RGB_STATS, crop, simple)
        embeddings = [net.embedding(transform(tv_rgb_loader(str(OUT / "photos" / name))).unsqueeze(0))[0].tolist() for name in PHOTOS]
        pil = [net.embedding(transform(image(name)).unsqueeze(0))[0].tolist() for name in PHOTOS]
        assert max(abs(a - b) for x, y in zip(embeddings, pil) for a, b in zip(x, y)) > 1e-6, "tv and pil must differ here"
        cases.append({"center_crop": crop, "simple_crop": simple, "embeddings": embeddings})
    return cases


def tv_sweep() -> None:
    import hashlib

    from torchvision.transforms import v2

    assert torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"), "the fixture is PyTorch's AVX2 kernel's"
    cases = []
    for seed, w, h, ow, oh in TV_SWEEP:
        pixels = procedural(seed, w, h)
        tensor = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)
        out = v2.Resize((oh, ow), interpolation=v2.InterpolationMode.BICUBIC, antialias=True)(tensor)
        data = out.permute(1, 2, 0).contiguous().numpy().tobytes()
        pil = np.asarray(Image.fromarray(pixels).resize((ow, oh), Image.BICUBIC)).tobytes()
        cases.append({"seed": seed, "width": w, "height": h, "out_width": ow, "out_height": oh,
                      "sha256": hashlib.sha256(data).hexdigest(), "differs_from_pil": data != pil})
    path = OUT.parent / "vision/resize/tv_sweep.json"
    path.write_text(json.dumps({"torch": torch.__version__, "torchvision": __import__("torchvision").__version__,
                                "cases": cases}, indent=1) + "\n")
    print(f"wrote {path}: {sum(c['differs_from_pil'] for c in cases)} of {len(cases)} differ from PIL")


def main() -> None:
    rd = rdnet()
    vt = vit()
    transform = inference_preset(SIZE, RGB_STATS, 1.0)
    out = {"classes": CLASSES, "vit_classes": VIT_CLASSES, "samples": PHOTOS, "images": [], "sizes": []}
    logits_rows = []
    with torch.inference_mode():
        for name in PHOTOS:
            x = transform(image(name)).unsqueeze(0)
            logits, _ = infer_batch(rd, x, return_logits=True)
            probabilities, _ = infer_batch(rd, x)
            tta_probabilities, _ = infer_batch(rd, x, tta=True)
            tta_logits, _ = infer_batch(rd, x, tta=True, return_logits=True)
            assert np.abs(tta_probabilities - probabilities).max() > 1e-3, "TTA must change the numbers"
            logits_rows.append(logits[0])
            out["images"].append({
                "sample": name,
                "logits": logits[0].tolist(),
                "tta_probabilities": tta_probabilities[0].tolist(),
                "tta_logits": tta_logits[0].tolist(),
            })
        for size in RDNET_SIZES:
            out["sizes"].append({"model": "rdnet_t_tiny-test.pt", "size": list(size), "embeddings": embeddings_at(rd, size)})
        for size in VIT_SIZES:
            out["sizes"].append({"model": "vit_b16_pn_tiny-test.pt", "size": list(size), "embeddings": embeddings_at(vt, size)})

        out["tv"] = tv_cases(rd)
    (OUT / "inference_options.json").write_text(json.dumps(out, indent=1) + "\n")
    tv_sweep()
    logits = np.stack(logits_rows).astype(np.float32)
    labels = np.array(LABELS, dtype=np.int64)
    save_logits(OUT / "birder_logits.csv", FOLDERS, CLASSES, logits, append=False, labels=labels)
    writer = _init_parquet_writer(["sample", "label"], CLASSES, OUT / "birder_logits.parquet")
    save_logits_parquet(writer, FOLDERS, CLASSES, logits, labels=labels)
    writer.close()
    probabilities = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    writer = _init_parquet_writer(["sample", "label", "prediction"], CLASSES, OUT / "birder_output.parquet")
    save_output_parquet(writer, FOLDERS, CLASSES, probabilities, labels=labels)
    writer.close()
    print(f"wrote {OUT / 'inference_options.json'}, birder_logits.csv/.parquet, birder_output.parquet, models/vit_b16_pn_tiny-test.pt")


def check_swift(paths: list[str]) -> None:
    import polars as pl
    import pyarrow.parquet as pq

    for path in paths:
        table = pq.read_table(path)
        print(f"{path}: pyarrow schema {table.schema}")
        print(f"  rows {table.num_rows}: {table.to_pylist()}")
        frame = pl.read_parquet(path)
        print(f"  polars {frame.schema}")
        print(frame)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--check-swift":
        check_swift(sys.argv[2:])
    else:
        main()
