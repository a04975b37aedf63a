"""bf16 fidelity fixtures: what PyTorch's own bf16 autocast does to Birder's embeddings of the
fixture photos, for the Swift `--precision bf16` tests (Tests/BirderModelsTests/BF16FidelityFixtureTests.swift).

Run from the repository root with the reference environment:

    /work/venv-ref/bin/python tools/reference/make_bf16_fixtures.py

Networks: the full-size rdnet_t and vit_b16_pn of Birder 0.8.4, built as the parity fixtures build
them (`registry.net_factory(network, 10, 3, size=(224, 224))`, then `seeded_params.fill_module`
with the seed of Tests/Fixtures/rdnet (20240521) and Tests/Fixtures/vit (1), which Swift's
`SeededParameters` regenerates bit for bit), in eval mode.

Inputs: the decodable CLI fixture photos (Tests/Fixtures/cli/photos, not the truncated JPEG),
`Image.open(path).convert("RGB")` then Birder's `inference_preset((224, 224), rgb_stats,
center_crop, simple_crop)` as `birder.scripts.predict` runs it, the three photos as one batch.
Each network gets the RGB statistics of its published checkpoint family (ImageNet's for rdnet_t,
CLIP's for the BioCLIP ViT). The input tensors are not stored: Swift's `InferenceTransform`
reproduces them exactly from the photos, and the manifest records every transform parameter.

Writes Tests/Fixtures/bf16/:
- `<network>_fp32.f32`: `net.embedding(x)` under `torch.inference_mode()`, float32;
- `<network>_autocast_bf16.f32`: the same under `torch.autocast("cpu", dtype=torch.bfloat16)`,
  cast back to float32 (PyTorch's one-line bf16 mode, the bar the Swift bf16 mode must meet);
- `manifest.json`: versions, seeds, networks, transform, photos, shapes, and per network and photo
  the autocast-vs-fp32 cosine similarity, relative L2 error ||bf16 - fp32|| / ||fp32|| and
  max |bf16 - fp32| / max |fp32| (computed in float64 from the stored float32 values).
All arrays are raw little-endian float32, row-major [photos, embedding size].
"""

import json
import platform
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import seeded_params  # noqa: E402

import birder  # noqa: E402
from birder.data.transforms.classification import get_rgb_stats, inference_preset  # noqa: E402
from birder.model_registry import registry  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "bf16"
PHOTO_DIR = ROOT / "Tests" / "Fixtures" / "cli" / "photos"
PHOTOS = ["a_chelsea.jpg", "insects/b_coffee.png", "insects/c_chelsea.webp"]
SIZE = (224, 224)
CENTER_CROP = 1.0  # birder.scripts.predict's default
SIMPLE_CROP = False
NUM_CLASSES = 10  # as the parity fixtures; the embedding does not depend on it
# network -> (seed of its parity fixture, RGB statistics preset of its published checkpoints)
NETWORKS = {
    "rdnet_t": (20240521, "imagenet"),
    "vit_b16_pn": (1, "clip"),
}


def cpu_name() -> str:
    """The CPU the autocast numbers were made on: oneDNN's bf16 kernels differ by instruction set."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def write(name: str, array: np.ndarray) -> dict:
    array = np.ascontiguousarray(array, dtype="<f4")
    array.tofile(OUT / name)
    return {"file": name, "shape": list(array.shape)}


def build(network: str, seed: int):
    net = registry.net_factory(network, NUM_CLASSES, 3, size=SIZE)
    seeded_params.fill_module(net, seed)
    return net.eval()


def photo_batch(stats_name: str) -> torch.Tensor:
    transform = inference_preset(SIZE, get_rgb_stats(stats_name), CENTER_CROP, SIMPLE_CROP)
    return torch.stack([transform(Image.open(PHOTO_DIR / name).convert("RGB")) for name in PHOTOS])


def errors(bf16: np.ndarray, fp32: np.ndarray) -> dict:
    a, b = bf16.astype(np.float64), fp32.astype(np.float64)
    return {
        "cosine": float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))),
        "relativeL2": float(np.linalg.norm(a - b) / np.linalg.norm(b)),
        "maxAbsDiffOverMaxAbs": float(np.abs(a - b).max() / np.abs(b).max()),
    }


def network_case(network: str, seed: int, stats_name: str) -> dict:
    net = build(network, seed)
    x = photo_batch(stats_name)
    with torch.inference_mode():
        fp32 = net.embedding(x).float().numpy()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        bf16 = net.embedding(x).float().numpy()
    stats = get_rgb_stats(stats_name)
    case = {
        "network": network,
        "seed": seed,
        "numClasses": NUM_CLASSES,
        "rgbStatsPreset": stats_name,
        "rgbStats": {"mean": list(stats["mean"]), "std": list(stats["std"])},
        "inputShape": list(x.shape),
        "fp32": write(f"{network}_fp32.f32", fp32),
        "autocastBF16": write(f"{network}_autocast_bf16.f32", bf16),
        # Re-read from the stored float32 values, so the numbers describe exactly the files.
        "autocastErrors": [],
    }
    stored32 = np.fromfile(OUT / case["fp32"]["file"], dtype="<f4").reshape(fp32.shape)
    stored16 = np.fromfile(OUT / case["autocastBF16"]["file"], dtype="<f4").reshape(bf16.shape)
    for i, photo in enumerate(PHOTOS):
        e = {"photo": photo, **errors(stored16[i], stored32[i])}
        case["autocastErrors"].append(e)
        print(f"{network} {photo}: cosine {e['cosine']:.6f}, rel L2 {e['relativeL2']:.3e}, "
              f"max|Δ|/max|fp32| {e['maxAbsDiffOverMaxAbs']:.3e}")
    return case


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    manifest = {
        "birderVersion": birder.__version__,
        "torchVersion": torch.__version__,
        "cpu": cpu_name(),
        "cpuHasAVX512BF16": "avx512_bf16" in Path("/proc/cpuinfo").read_text(),
        "autocast": 'torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16): net.embedding(x).float()',
        "photoFolder": "cli/photos",
        "photos": PHOTOS,
        "transform": {
            "function": "birder.data.transforms.classification.inference_preset",
            "loader": "PIL Image.open(path).convert('RGB')",
            "size": list(SIZE),
            "centerCrop": CENTER_CROP,
            "simpleCrop": SIMPLE_CROP,
            "resize": "torchvision v2.Resize bicubic antialias on PIL images (Pillow's resize)",
        },
        "networks": [network_case(name, seed, stats) for name, (seed, stats) in NETWORKS.items()],
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {OUT} ({total / 1e3:.1f} kB)")


if __name__ == "__main__":
    main()
