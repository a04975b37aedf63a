"""Deterministic O(1)-scale parameters, bit-identical to Swift's `SeededParameters`
(Sources/BirderCore/Parameters/SeededParameters.swift).

Element i (0-based, C order) of tensor `name`: z = splitmix64 finaliser of
(fnv1a64(name) ^ seed) + (i + 1) * 0x9E3779B97F4A7C15; u = (z >> 40) * 2**-24 in [0, 1);
value = float32(center + half_width * (2u - 1)) computed in float64.

Imported by the fixture scripts beside it; `fill_module(model, seed)` overwrites every parameter
and buffer of a torch module in place (SPEC.md's gamma trap: nothing stays at 1e-6).
"""

import math

import numpy as np

MASK = (1 << 64) - 1


def fnv1a64(text: str) -> int:
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * 0x100000001B3) & MASK
    return h


def unit_uniform(name: str, count: int, seed: int) -> np.ndarray:
    base = np.uint64(fnv1a64(name) ^ (seed & MASK))
    i = np.arange(1, count + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = base + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float64) * 2.0**-24


def scale(name: str, shape: tuple[int, ...]) -> tuple[float, float]:
    leaf = name.split(".")[-1]
    if leaf == "gamma":
        return 0.75, 0.25
    if leaf in ("class_token", "pos_embedding"):
        return 0.0, 0.5
    if leaf == "weight" and len(shape) == 1:
        return 1.0, 0.2
    if leaf == "bias":
        return 0.0, 0.1
    if len(shape) >= 2:
        fan_in = math.prod(shape[1:])
        return 0.0, math.sqrt(3.0 / fan_in)
    raise ValueError(f"seeded parameters: no scale rule for '{name}' with shape {list(shape)}")


def uniform(name: str, shape: tuple[int, ...], center: float, half_width: float, seed: int) -> np.ndarray:
    u = unit_uniform(name, math.prod(shape), seed)
    return (center + half_width * (2.0 * u - 1.0)).astype(np.float32).reshape(shape)


def parameter(name: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    center, half_width = scale(name, shape)
    return uniform(name, shape, center, half_width, seed)


def fill_module(module, seed: int) -> None:
    """Overwrites every entry of `module.state_dict()` with its seeded value."""
    import torch

    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            value = parameter(name, tuple(tensor.shape), seed)
            tensor.copy_(torch.from_numpy(value))


if __name__ == "__main__":
    # Values the Swift test pins (Tests/BirderCoreTests/SeededParametersTests.swift).
    for name, shape in [("body.stage1.0.layers.0.gamma", (4,)), ("conv_proj.weight", (2, 3, 2, 2)), ("norm.bias", (3,))]:
        print(name, parameter(name, shape, seed=42).ravel().tolist())
