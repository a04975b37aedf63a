"""Fixtures for the command-line end-to-end tests (Tests/BirderCLITests), made with Birder 0.8.4.

Writes Tests/Fixtures/cli/:
  models/rdnet_t_tiny-test.pt          a tiny RDNet (rdnet_t with a small config override, seeded
                                       parameters, 4 classes, 64×64) saved by fs_ops.checkpoint_model
  models/rdnet_t_tiny-test-order.head.pt   a 5-class linear-probe head on its embedding
  models/wrong-width.head.pt           a head one column too wide for the model
  expected.json                        for each image of photos/ (in the CLI's input order): Birder's
                                       embedding, classifier probabilities and head probabilities,
                                       computed as `birder.scripts.predict` does (PIL decode,
                                       inference_preset, net.embedding, classify, softmax)
photos/ holds copies of Tests/Fixtures/vision images and one truncated JPEG the CLI must skip.

Run: /path/to/venv-reference/bin/python tools/reference/make_cli_fixtures.py
"""

import json
import shutil
import sys
import tempfile
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import seeded_params  # noqa: E402

from birder.common import fs_ops  # noqa: E402
from birder.conf import settings  # noqa: E402
from birder.data.transforms.classification import inference_preset  # noqa: E402
from birder.model_registry import registry  # noqa: E402
from birder.net.base import get_signature  # noqa: E402
from birder.version import __version__  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests/Fixtures/cli"
PHOTOS = ["a_chelsea.jpg", "insects/b_coffee.png", "insects/c_chelsea.webp"]  # sorted walk order

CONFIG = {"num_init_features": 8, "growth_rates": [8, 16], "num_blocks_list": [1, 1],
          "is_downsample_block": [False, True], "transition_compression_ratio": 0.5,
          "block_type_name": ["Block", "BlockESE"], "drop_path_rate": 0.0}
CLASSES = ["Coleoptera", "Diptera", "Hymenoptera", "Lepidoptera"]
HEAD_CLASSES = ["Araneae", "Coleoptera", "Diptera", "Hemiptera", "Lepidoptera"]
RGB_STATS = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}
SIZE = (64, 64)


def main() -> None:
    models = OUT / "models"
    models.mkdir(parents=True, exist_ok=True)
    net = registry.net_factory("rdnet_t", len(CLASSES), 3, config=CONFIG, size=SIZE).eval()
    seeded_params.fill_module(net, seed=11)
    class_to_idx = {name: i for i, name in enumerate(CLASSES)}
    signature = get_signature((1, 3, *SIZE), len(CLASSES))
    with tempfile.TemporaryDirectory() as tmp:
        settings.MODELS_DIR = Path(tmp)
        fs_ops.checkpoint_model("rdnet_t_tiny-test", None, net, signature, class_to_idx, RGB_STATS,
                                None, None, None, None, external_config=CONFIG)
        shutil.copy(fs_ops.model_path("rdnet_t_tiny-test"), models / "rdnet_t_tiny-test.pt")

    width = net.embedding_size
    head = torch.nn.Linear(width, len(HEAD_CLASSES))
    seeded_params.fill_module(head, seed=12)
    head_to_idx = {name: i for i, name in enumerate(HEAD_CLASSES)}
    torch.save({"state": head.state_dict(), "birder_version": __version__, "class_to_idx": head_to_idx},
               models / "rdnet_t_tiny-test-order.head.pt")
    wrong = torch.nn.Linear(width + 1, 2)
    seeded_params.fill_module(wrong, seed=13)
    torch.save({"state": wrong.state_dict(), "class_to_idx": {"a": 0, "b": 1}}, models / "wrong-width.head.pt")

    transform = inference_preset(SIZE, RGB_STATS, 1.0)
    expected = {"classes": CLASSES, "head_classes": HEAD_CLASSES, "embedding_size": width, "images": []}
    with torch.inference_mode():
        for name in PHOTOS:
            x = transform(Image.open(OUT / "photos" / name).convert("RGB")).unsqueeze(0)
            embedding = net.embedding(x)
            expected["images"].append({
                "sample": name,
                "embedding": embedding[0].tolist(),
                "probabilities": torch.softmax(net.classify(embedding), dim=1)[0].tolist(),
                "head_probabilities": torch.softmax(head(embedding), dim=1)[0].tolist(),
            })
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
