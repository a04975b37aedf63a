"""Parity fixtures for the Swift ViT (Sources/BirderModels/ViT) from Birder 0.8.4.

Run from the repository root with the reference environment:

    /work/venv-ref/bin/python tools/reference/make_vit_fixtures.py

Writes Tests/Fixtures/vit/: raw little-endian float32 files (*.f32) and manifest.json, which says
for every case what was built (registry name, config override, size, num_classes, seed) and the
shape of every file. Nothing here has to be committed twice: weights are `fill_module(net, SEED)`
and inputs are `seeded_params.uniform("input", NCHW shape, 0, 2, SEED)`, both of which Swift
regenerates bit for bit (SeededParameters), so only outputs are stored.

Cases
- interpolation: torch.nn.functional.interpolate on a small C x 14 x 14 grid, bicubic and bilinear,
  antialias on (Birder's `adjust_size` path) and off (its `dynamic_size` path), up and down.
- vit_b16_pn (full size, num_classes 10): batch 2 at 224 (embedding, probabilities, detection
  features with every 8th channel); a net created at 224 then `adjust_size((160, 224))`
  (antialiased position-embedding resize, as `load_model(new_size=...)` does); a net at 224 with
  `set_dynamic_size()` fed 240 x 256 (resize per input, no antialias).
- two tiny configs through registry overrides (post-norm with patch bias, register tokens, layer
  scale; average pooling with quick GELU, no qkv bias, norm after pool) at non-square sizes.
- registry.json: every config Birder registers on its ViT class (name -> config dict), and
  state_dict_vit_b16_pn.txt: the parameter names and shapes of vit_b16_pn with 1000 classes.
"""

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import seeded_params
from birder.model_registry import registry

SEED = 1
OUT = Path(__file__).resolve().parents[2] / "Tests" / "Fixtures" / "vit"
DETECTION_CHANNEL_STRIDE = 8


def write(name: str, array) -> dict:
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    array = np.ascontiguousarray(array, dtype="<f4")
    array.tofile(OUT / name)
    return {"file": name, "shape": list(array.shape)}


def interpolation_cases() -> list[dict]:
    cases = []
    grid = seeded_params.uniform("interp.grid", (5, 14, 14), 0.0, 1.0, SEED)
    cases_in = write("interp_input.f32", grid)
    x = torch.from_numpy(grid).unsqueeze(0)
    sizes = [(21, 21), (10, 14), (28, 14), (7, 9), (16, 12)]
    for mode in ("bicubic", "bilinear"):
        for antialias in (True, False):
            for size in sizes:
                y = F.interpolate(x, size=size, mode=mode, antialias=antialias)
                name = f"interp_{mode}_{'aa' if antialias else 'noaa'}_{size[0]}x{size[1]}.f32"
                cases.append({"mode": mode, "antialias": antialias, "input": cases_in,
                              "output": write(name, y[0])})
    return cases


def build(network: str, num_classes: int, config: dict | None, size: tuple[int, int]):
    net = registry.net_factory(network, num_classes, 3, config=config, size=size)
    seeded_params.fill_module(net, SEED)
    net.eval()
    return net


def model_case(tag: str, network: str, num_classes: int, config: dict | None, size, input_shape,
               adjust_size=None, dynamic=False) -> dict:
    net = build(network, num_classes, config, size)
    if adjust_size is not None:
        net.adjust_size(adjust_size)
    if dynamic:
        net.set_dynamic_size()

    x = torch.from_numpy(seeded_params.uniform("input", tuple(input_shape), 0.0, 2.0, SEED))
    with torch.inference_mode():
        embedding = net.embedding(x)
        logits = net(x)
        features = net.detection_features(x)
    case = {
        "tag": tag, "network": network, "config": config or {}, "numClasses": num_classes,
        "size": list(size), "adjustSize": list(adjust_size) if adjust_size else None, "dynamic": dynamic,
        "inputShape": list(input_shape), "embedding": write(f"{tag}_embedding.f32", embedding),
        "stages": list(features.keys()), "detectionChannelStride": DETECTION_CHANNEL_STRIDE,
    }
    if num_classes > 0:
        case["probabilities"] = write(f"{tag}_probabilities.f32", torch.softmax(logits, dim=1))
    stage = features["stage1"]
    case["detectionShape"] = list(stage.shape)
    case["detection"] = write(f"{tag}_detection.f32", stage[:, ::DETECTION_CHANNEL_STRIDE])
    print(tag, {k: v for k, v in case.items() if k in ("inputShape", "detectionShape")},
          "embedding max", float(embedding.abs().max()))
    return case


def registry_configs() -> dict:
    from birder.net.vit import ViT

    configs = {}
    for name, net_type in registry.registered_configs.items():
        if issubclass(net_type, ViT) and net_type.__mro__[1] is ViT:
            configs[name] = net_type.config
    return configs


def state_dict_listing() -> None:
    net = registry.net_factory("vit_b16_pn", 1000, 3, size=(224, 224))
    lines = [f"{name} {list(t.shape)}" for name, t in net.state_dict().items()]
    (OUT / "state_dict_vit_b16_pn.txt").write_text("\n".join(lines) + "\n")


def main() -> None:
    torch.manual_seed(0)
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = {"seed": SEED, "birderVersion": __import__("birder").__version__,
                "torchVersion": torch.__version__, "interpolation": interpolation_cases(), "models": []}
    models = manifest["models"]
    models.append(model_case("b16pn_224", "vit_b16_pn", 10, None, (224, 224), (2, 3, 224, 224)))
    models.append(model_case("b16pn_adjust_160x224", "vit_b16_pn", 10, None, (224, 224), (1, 3, 160, 224),
                             adjust_size=(160, 224)))
    models.append(model_case("b16pn_dynamic_240x256", "vit_b16_pn", 10, None, (224, 224), (1, 3, 240, 256),
                             dynamic=True))
    tiny_a = {"num_layers": 2, "num_heads": 4, "hidden_dim": 64, "mlp_dim": 96,
              "num_reg_tokens": 2, "layer_scale_init_value": 1e-5}
    models.append(model_case("tiny_reg_ls", "vit_s16", 7, tiny_a, (64, 48), (2, 3, 64, 48)))
    tiny_b = {"num_layers": 2, "num_heads": 2, "hidden_dim": 32, "mlp_dim": 80, "class_token": False,
              "qkv_bias": False, "act_layer_type": "quick_gelu", "norm_after_pool": True}
    models.append(model_case("tiny_avg_pn", "vit_b16_pn", 0, tiny_b, (48, 64), (2, 3, 32, 80),
                             adjust_size=(32, 80)))
    (OUT / "registry.json").write_text(json.dumps(registry_configs(), indent=1) + "\n")
    state_dict_listing()
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
