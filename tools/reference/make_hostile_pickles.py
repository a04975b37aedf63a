"""Hostile checkpoints for BirderIO's memory-exhaustion tests: "billion laughs" pickles, made with
the standard library only (no torch needed; nothing here is ever loaded by Python).

Run from the repository root:

    python3 tools/reference/make_hostile_pickles.py

Each file is a torch.save-shaped archive of a Birder checkpoint (or head) that is valid except for
one metadata field: that field holds nested references to one shared structure, so a file of a
few kilobytes describes a tree of 2^40 or more elements. Python's own pickler writes the sharing
(memo references, BINGET), exactly as it would for any shared object. A reader that keeps the
sharing in memory but later walks the value as a tree (to JSON, to a config) expands it
exponentially; BirderIO must refuse them with an error naming the file.

Writes Tests/Fixtures/io/:
  hostile_laughs_config_lists.pt          config["layers"]: 40 levels of [x, x] (lists)
  hostile_laughs_signature_dicts.pt       signature["outputs"]: 40 levels of {"a": x, "b": x}
  hostile_laughs_rgb_stats_tuples.pt      rgb_stats["mean"]: 40 levels of (x, x)
  hostile_laughs_class_to_idx_mixed.pt    class_to_idx["a"]: list, dict and tuple levels in turn
  hostile_laughs_birder_version_strings.pt  birder_version: 512×512 references to one 4 KiB string
  hostile_laughs_task_set.pt              task: a set holding a 40-level tuple structure
  hostile_laughs_wide.pt                  config["x"]: 3 levels of 1000 references (10^9 leaves)
  hostile_laughs_deep.pt                  config["x"]: 95 levels of [x, x] (just inside the
                                          nesting limit of 100)
  hostile_laughs_order.head.pt            a head file whose class_to_idx["a"] is 40 levels of [x, x]
  shared_config_ok.pt                     the same checkpoint, valid, its config["layers"] 10 levels
                                          of [x, x] (1024 leaves): moderate sharing still loads
  hostile_ordereddict_copies.pt           raw opcodes: 3000 OrderedDict(d) calls over one dict of
                                          2000 items (quadratic copying while loading, not sharing)
"""

import pickle
import struct
import sys
import types
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "Tests" / "Fixtures" / "io"


# Stand-ins for the torch globals a checkpoint names, so Python's pickler writes the same GLOBAL
# opcodes torch.save does without torch installed. They are only ever pickled, never called.
def _install_fake_torch():
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")
    collections_module = sys.modules["collections"]

    def _rebuild_tensor_v2(*args):
        raise RuntimeError("never called")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2

    class FloatStorage:
        pass

    FloatStorage.__module__ = "torch"
    FloatStorage.__qualname__ = "FloatStorage"
    torch.FloatStorage = FloatStorage
    torch._utils = utils
    sys.modules["torch"] = torch
    sys.modules["torch._utils"] = utils
    return _rebuild_tensor_v2, FloatStorage, collections_module.OrderedDict


REBUILD, FLOAT_STORAGE, ORDERED_DICT = _install_fake_torch()


class StoredTensor:
    """Pickles as torch does: _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())."""

    def __init__(self, key, shape):
        self.key = key
        self.shape = tuple(shape)

    def numel(self):
        n = 1
        for d in self.shape:
            n *= d
        return n

    def __reduce__(self):
        stride, step = [], 1
        for d in reversed(self.shape):
            stride.insert(0, step)
            step *= d
        storage = _Storage(self.key, self.numel())
        return (REBUILD, (storage, 0, self.shape, tuple(stride), False, ORDERED_DICT()))


class SetOf:
    """Pickles as set(items) (REDUCE of builtins.set): Python would hash the items to build the set
    itself, and hashing a shared tuple tree walks every one of its 2^40 leaves."""

    def __init__(self, items):
        self.items = items

    def __reduce__(self):
        return (set, (self.items,))


class _Storage:
    def __init__(self, key, numel):
        self.key = key
        self.numel = numel


class _TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", FLOAT_STORAGE, obj.key, "cpu", obj.numel)
        return None


def write_archive(name, pickle_bytes, storages):
    """A torch.save-shaped ZIP (STORED entries under one folder named after the file)."""
    stem = name.split(".")[0]
    path = OUT / name
    entries = [("data.pkl", pickle_bytes), ("byteorder", b"little")]
    entries += [(f"data/{key}", data) for key, data in storages.items()]
    entries.append(("version", b"3\n"))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for entry, data in entries:
            # A fixed date keeps regenerated fixtures byte-identical.
            z.writestr(zipfile.ZipInfo(f"{stem}/{entry}", date_time=(1980, 1, 1, 0, 0, 0)), data)
    print(f"{path.relative_to(OUT.parents[2])}: {path.stat().st_size} bytes")


def pickled(obj):
    import io

    buffer = io.BytesIO()
    _TorchPickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def floats(values):
    return struct.pack(f"<{len(values)}f", *values)


def checkpoint(**overrides):
    """A small valid Birder checkpoint: one 2×3 classifier, two classes; fields replaced by `overrides`."""
    state = ORDERED_DICT()
    state["classifier.weight"] = StoredTensor("0", [2, 3])
    value = {
        "state": state,
        "birder_version": "0.8.4",
        "task": "image_classification",
        "signature": {"inputs": [{"data_shape": [0, 3, 8, 8]}], "outputs": [{"data_shape": [0, 2]}]},
        "class_to_idx": {"a": 0, "b": 1},
        "rgb_stats": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
    }
    value.update(overrides)
    return value


STORAGES = {"0": floats([0.5, -1.0, 2.0, 0.25, 1.5, -0.75])}


def nested(levels, make):
    x = 0
    for level in range(levels):
        x = make(x, level)
    return x


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    lists = lambda x, _: [x, x]  # noqa: E731
    dicts = lambda x, _: {"a": x, "b": x}  # noqa: E731
    tuples = lambda x, _: (x, x)  # noqa: E731

    def mixed(x, level):
        return [lists, dicts, tuples][level % 3](x, level)

    cases = {
        "shared_config_ok.pt": checkpoint(config={"layers": nested(10, lists)}),
        "hostile_laughs_config_lists.pt": checkpoint(config={"layers": nested(40, lists)}),
        "hostile_laughs_signature_dicts.pt": checkpoint(signature={
            "inputs": [{"data_shape": [0, 3, 8, 8]}], "outputs": nested(40, dicts)}),
        "hostile_laughs_rgb_stats_tuples.pt": checkpoint(rgb_stats={"mean": nested(40, tuples), "std": [1.0, 1.0, 1.0]}),
        "hostile_laughs_class_to_idx_mixed.pt": checkpoint(class_to_idx={"a": nested(42, mixed), "b": 1}),
        "hostile_laughs_birder_version_strings.pt": checkpoint(birder_version=[["x" * 4096] * 512] * 512),
        "hostile_laughs_task_set.pt": checkpoint(task=SetOf([nested(40, tuples)])),
        "hostile_laughs_wide.pt": checkpoint(config={"x": [[[0] * 1000] * 1000] * 1000}),
        "hostile_laughs_deep.pt": checkpoint(config={"x": nested(95, lists)}),
    }
    for name, value in cases.items():
        write_archive(name, pickled(value), STORAGES)

    head_state = ORDERED_DICT()
    head_state["weight"] = StoredTensor("0", [2, 3])
    head_state["bias"] = StoredTensor("1", [2])
    head = {"state": head_state, "birder_version": "0.8.4", "class_to_idx": {"a": nested(40, lists), "b": 1}}
    write_archive("hostile_laughs_order.head.pt", pickled(head), {**STORAGES, "1": floats([0.0, 1.0])})

    # Quadratic copying while loading: OrderedDict(d) copies d's items, and REDUCE can be repeated
    # over one memoized d. Python's pickler never writes this; the opcodes are spelled out.
    p = bytearray(b"\x80\x02")
    p += b"]q\x00("  # the result: EMPTY_LIST, BINPUT 0, MARK for APPENDS
    p += b"}q\x01("  # d: EMPTY_DICT, BINPUT 1, MARK for SETITEMS
    for i in range(2000):
        p += b"M" + struct.pack("<H", i) + b"K\x01"  # BININT2 i, BININT1 1
    p += b"u"  # SETITEMS: d stays on the stack as the list's first item
    p += b"ccollections\nOrderedDict\nq\x02h\x01\x85R"  # GLOBAL (BINPUT 2), BINGET d, TUPLE1, REDUCE
    for _ in range(2999):
        p += b"h\x02h\x01\x85R"  # OrderedDict((d,)) again, through the memo
    p += b"e."  # APPENDS, STOP
    write_archive("hostile_ordereddict_copies.pt", bytes(p), {})


if __name__ == "__main__":
    main()
