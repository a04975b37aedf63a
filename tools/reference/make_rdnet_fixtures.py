"""Parity fixtures for the Swift RDNet (Sources/BirderModels/RDNet), from Birder 0.8.4 itself.

Run from the repository root with the reference environment:

    /work/venv-ref/bin/python tools/reference/make_rdnet_fixtures.py

With `--bench [batch] [threads] [iterations]` it writes nothing and instead times Birder's rdnet_t
embedding in PyTorch (eval, inference_mode) and in ONNX Runtime (the same graph exported to ONNX)
with that many threads (default batch 8, 2 threads, 5 runs): the reference numbers for the Swift
benchmark (Tests/BirderModelsTests/RDNetBenchmarkTests.swift), to be run back to back with it.

Builds networks through Birder's registry, overwrites every parameter with
`seeded_params.fill_module(model, SEED)` (the values Swift's `ParameterBinder(seeded:)` generates,
so no weight file is committed and no gamma stays at 1e-6), feeds seeded inputs
(`seeded_params.uniform("input", NHWC shape, 0, 2, SEED)`, also regenerated in Swift) and writes
raw little-endian float32 outputs plus `manifest.json` into Tests/Fixtures/rdnet/:

- `rdnet_t` (full size, 10 classes) on 2×224×224: embeddings, probabilities, and every
  `SUBSAMPLE`-th element of each NCHW detection-feature map (the full maps are 8 MB);
- `rdnet_t` on 1×64×160 (non-square): all four detection-feature maps in full and the embedding;
- a tiny custom config (growth rates that are not multiples of 8, ESE and plain blocks, 5 classes)
  on 2×64×96: embeddings, probabilities, full features — the odd-width code paths;
- `state_dict_rdnet_{t,s}.txt`: every state-dict name and shape (1000 classes), for the strict
  loading tests; `return_channels.json`: each registered config's stage widths.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import seeded_params  # noqa: E402

import birder  # noqa: E402
from birder.model_registry import registry  # noqa: E402

SEED = 20240521
SUBSAMPLE = 29
OUT = Path(__file__).resolve().parents[2] / "Tests" / "Fixtures" / "rdnet"

TINY_CONFIG = {
    "num_init_features": 24,
    "growth_rates": [12, 20, 36],
    "num_blocks_list": [2, 2, 1],
    "is_downsample_block": [False, True, True],
    "transition_compression_ratio": 0.5,
    "block_type_name": ["Block", "BlockESE", "BlockESE"],
    "drop_path_rate": 0.0,
}


def write(name: str, array: np.ndarray) -> str:
    path = OUT / name
    np.ascontiguousarray(array, dtype="<f4").tofile(path)
    return name


def build(num_classes: int, size: tuple[int, int], config=None):
    model = registry.net_factory("rdnet_t", num_classes, size=size, config=config)
    seeded_params.fill_module(model, SEED)
    return model.eval()


def seeded_input(shape_nhwc: tuple[int, ...]) -> torch.Tensor:
    nhwc = seeded_params.uniform("input", shape_nhwc, 0.0, 2.0, SEED)
    return torch.from_numpy(nhwc).permute(0, 3, 1, 2).contiguous()


def run_case(name, model, shape_nhwc, *, classes: bool, feature_step: int):
    x = seeded_input(shape_nhwc)
    case = {"name": name, "input_shape_nhwc": list(shape_nhwc), "outputs": {}}
    with torch.inference_mode():
        embedding = model.embedding(x)
        case["outputs"]["embedding"] = {
            "file": write(f"{name}_embedding.f32", embedding.numpy()),
            "shape": list(embedding.shape),
            "step": 1,
        }
        if classes:
            probabilities = torch.softmax(model.classify(embedding), dim=1)
            case["outputs"]["probabilities"] = {
                "file": write(f"{name}_probabilities.f32", probabilities.numpy()),
                "shape": list(probabilities.shape),
                "step": 1,
            }
        for stage, value in model.detection_features(x).items():
            flat = value.numpy().reshape(-1)[::feature_step]
            case["outputs"][stage] = {
                "file": write(f"{name}_{stage}.f32", flat),
                "shape": list(value.shape),
                "step": feature_step,
            }
    for key, entry in case["outputs"].items():
        print(f"{name} {key}: shape {entry['shape']} step {entry['step']}")
    return case


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    full = build(10, (224, 224))
    tiny = build(5, (96, 64), config=TINY_CONFIG)
    cases = [
        run_case("t224", full, (2, 224, 224, 3), classes=True, feature_step=SUBSAMPLE),
        run_case("t64x160", full, (1, 64, 160, 3), classes=False, feature_step=1),
        run_case("tiny", tiny, (2, 64, 96, 3), classes=True, feature_step=1),
    ]
    channels = {}
    for network in ("rdnet_t", "rdnet_s", "rdnet_b", "rdnet_l"):
        model = registry.net_factory(network, 1000, size=(224, 224))
        channels[network] = {"return_channels": model.return_channels, "embedding_size": model.embedding_size}
        if network in ("rdnet_t", "rdnet_s"):
            lines = [f"{k} {list(v.shape)}" for k, v in model.state_dict().items()]
            (OUT / f"state_dict_{network}.txt").write_text("\n".join(lines) + "\n")
    (OUT / "return_channels.json").write_text(json.dumps(channels, indent=1) + "\n")
    manifest = {
        "birder_version": birder.__version__,
        "torch_version": torch.__version__,
        "seed": SEED,
        "input": "seeded_params.uniform('input', NHWC shape, center 0, half width 2, seed)",
        "networks": {"t224": "rdnet_t", "t64x160": "rdnet_t", "tiny": "rdnet_t with tiny_config"},
        "num_classes": {"t224": 10, "t64x160": 10, "tiny": 5},
        "tiny_config": TINY_CONFIG,
        "cases": cases,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


def bench(batch: int, threads: int, iterations: int) -> None:
    import tempfile
    import time

    torch.set_num_threads(threads)
    model = registry.net_factory("rdnet_t", 0, size=(224, 224))
    seeded_params.fill_module(model, 1)
    model.eval()
    x = torch.randn(batch, 3, 224, 224)

    def report(name, run):
        run()
        run()
        times = []
        for _ in range(iterations):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        best, median = min(times), sorted(times)[len(times) // 2]
        runs = ", ".join(f"{t:.3f} s" for t in times)
        print(f"{name} rdnet_t batch {batch}, {threads} threads: best {batch / best:.2f} img/s, "
              f"median {batch / median:.2f} img/s; runs {runs}")

    with torch.inference_mode():
        report(f"PyTorch {torch.__version__}", lambda: model.embedding(x))

    import onnxruntime as ort

    class Embedding(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net.embedding(x)

    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/rdnet_t.onnx"
        torch.onnx.export(Embedding(model), x, path, input_names=["x"], output_names=["embedding"],
                          dynamo=False, opset_version=17)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        feed = {"x": x.numpy()}
        report(f"ONNX Runtime {ort.__version__}", lambda: session.run(None, feed))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--bench":
        numbers = [int(v) for v in sys.argv[2:]] + [8, 2, 5][len(sys.argv) - 2:]
        bench(*numbers[:3])
    else:
        main()
