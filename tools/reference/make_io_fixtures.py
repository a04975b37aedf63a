"""Fixtures for BirderIO's tests (checkpoint reading and writing), made with the reference
environment (Birder 0.8.4, torch, safetensors, numpy).

Run from the repository root:

    /work/venv-ref/bin/python tools/reference/make_io_fixtures.py

Writes Tests/Fixtures/io/:
  tensors.pt             torch.save of an OrderedDict: every dtype BirderIO reads (float32, float16,
                         bfloat16, float64, int64, int32, int16, int8, uint8, bool), a transposed
                         view, a sliced view with a storage offset, two tensors sharing one storage,
                         a Parameter, a 0-d scalar and an empty tensor.
  structures.pt          torch.save of nested Python values: dict/list/tuple/set, str, small/big/negative
                         ints, float, None, bools, bytes, torch.Size, torch.device, a dtype, Counter.
  tensors.expected.json  dtype, shape and row-major values of every tensor in tensors.pt.
  tiny_rdnet_*.pt/.safetensors
                         a tiny RDNet (Birder's rdnet_t with a small config override, seeded
                         parameters) saved by Birder's own writers: fs_ops.checkpoint_model (.pt)
                         and fs_ops.save_st (.safetensors); tiny_rdnet.expected.json has its names,
                         shapes, values, signature, class_to_idx, rgb_stats and config.
  broadcast_huge.pt      a stride-0 view of 2^40 elements over 6 floats: torch loads it as a view,
                         BirderIO refuses it (converting it would allocate 4 TiB).
  tiny_rdnet_t_ibot-test-order.head.pt
                         a head file written as Birder's tools/convert_model.py --head-only does.
  bigendian.pt           tensors.pt with every storage byte-swapped and byteorder "big" (torch
                         byte-swaps on load; the script checks it loads equal).
  zip64.pt               tensors.pt re-packed with Zip64 extra fields in every central-directory
                         entry and Zip64 end records (torch loads it; checked).
  legacy.pt              the pre-1.6 non-ZIP torch.save format (BirderIO refuses it clearly).
  deflated.pt            tensors.pt re-packed with DEFLATE entries (refused clearly).
  hostile_*.pt / hostile_*.safetensors
                         files that must be refused without executing or allocating anything: GLOBALs
                         os.system, builtins.eval, posix.system, subprocess.Popen; a truncated
                         archive; an entry claiming more bytes than the file has; a storage shorter
                         than its numel; a view reaching past its storage; negative and overflowing
                         shapes; safetensors with overlapping or out-of-file offsets, a size that does
                         not match dtype×shape, and a huge header length. The script checks that
                         torch / safetensors refuse them too.
  rdnet_t_state_dict.txt Birder 0.8.4's rdnet_t state-dict names and shapes (1000 classes), and
  rdnet_t.expected.json  its element count computed by torch.
"""

import collections
import io
import json
import math
import os
import pickle
import shutil
import struct
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import seeded_params  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "io"


def values_of(t: torch.Tensor):
    flat = t.contiguous().reshape(-1)
    if t.dtype == torch.bool:
        return [int(v) for v in flat.tolist()]
    if t.dtype.is_floating_point:
        return [float(v) for v in flat.to(torch.float64).tolist()]
    return [int(v) for v in flat.tolist()]


def describe(t: torch.Tensor):
    return {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "values": values_of(t)}


def fixed_info(name: str, compress=zipfile.ZIP_STORED) -> zipfile.ZipInfo:
    """An entry stamped 1980-01-01 so re-running the script rewrites identical bytes."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = compress
    return info


def rezip(src: Path, dst: Path, transform=None, compress=zipfile.ZIP_STORED):
    """Copies a torch archive entry by entry, optionally transforming entry bytes."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression=compress) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if transform is not None:
                data = transform(info.filename, data)
            zout.writestr(fixed_info(info.filename, compress), data)


def write_zip64(entries: list[tuple[str, bytes]], dst: Path):
    """A STORED archive whose every entry uses Zip64 sizes and offsets (as torch's writer does for
    archives past 4 GiB), data 64-byte aligned."""
    out = bytearray()
    central = bytearray()
    for name, data in entries:
        nb = name.encode()
        crc = zipfile.crc32(data) & 0xFFFFFFFF
        offset = len(out)
        extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        pad_needed = (64 - (offset + 30 + len(nb) + len(extra) + 4) % 64) % 64
        extra += struct.pack("<HH", 0x4246, pad_needed) + b"Z" * pad_needed
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(extra))
        out += nb + extra
        assert len(out) % 64 == 0
        out += data
        cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                               len(nb), len(cextra), 0, 0, 0, 0, 0xFFFFFFFF)
        central += nb + cextra
    cd_offset = len(out)
    out += central
    z64_offset = len(out)
    n = len(entries)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(central), cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, z64_offset, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    dst.write_bytes(bytes(out))


def torch_archive(dst: Path, pickle_bytes: bytes, storages: dict[str, bytes] | None = None):
    """A torch.save-shaped ZIP (STORED) around a hand-made pickle."""
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(fixed_info("archive/data.pkl"), pickle_bytes)
        z.writestr(fixed_info("archive/byteorder"), b"little")
        for key, data in (storages or {}).items():
            z.writestr(fixed_info(f"archive/data/{key}"), data)
        z.writestr(fixed_info("archive/version"), b"3\n")


def must_fail_torch(path: Path):
    try:
        torch.load(path, weights_only=True)
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
    raise AssertionError(f"torch.load accepted hostile fixture {path.name}")


def tensor_pickle(storage_type: str, numel: int, offset: int, size: tuple, stride: tuple) -> bytes:
    """Protocol-2 pickle of one `_rebuild_tensor_v2` call over storage key '0', wrapped in a dict."""
    def long1(v: int) -> bytes:
        b = v.to_bytes((v.bit_length() + 8) // 8, "little", signed=True)
        return b"\x8a" + bytes([len(b)]) + b

    def integer(v: int) -> bytes:
        if 0 <= v < 256:
            return b"K" + bytes([v])
        if -(2**31) <= v < 2**31:
            return b"J" + struct.pack("<i", v)
        return long1(v)

    def tup(items):
        return b"(" + b"".join(integer(i) for i in items) + b"t"

    def s(text: str) -> bytes:
        b = text.encode()
        return b"X" + struct.pack("<I", len(b)) + b

    return (b"\x80\x02}(" + s("t") + b"ctorch._utils\n_rebuild_tensor_v2\n(("
            + s("storage") + f"ctorch\n{storage_type}\n".encode() + s("0") + s("cpu") + integer(numel) + b"tQ"
            + integer(offset) + tup(size) + tup(stride) + b"\x89ccollections\nOrderedDict\n)RtRu.")


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    torch.manual_seed(0)
    expected: dict = {}

    # ---- tensors.pt: every dtype and layout ----
    sd = collections.OrderedDict()
    sd["f32"] = torch.tensor([[1.5, -2.25, 3.0], [0.1, 1e-30, -7e20]], dtype=torch.float32)
    sd["f16"] = torch.tensor([[0.5, -1.0], [65504.0, 6e-8], [1 / 3, -0.0]], dtype=torch.float16)
    sd["bf16"] = torch.tensor([1.0, -3.140625, 1e30, 1e-30, 0.0078125], dtype=torch.bfloat16)
    sd["f64"] = torch.tensor([[math.pi, -math.e], [1e300, 5e-324]], dtype=torch.float64)
    sd["i64"] = torch.tensor([0, -1, 2**62 + 1, -(2**53) - 3], dtype=torch.int64)
    sd["i32"] = torch.tensor([[2**31 - 1, -(2**31)], [7, -7]], dtype=torch.int32)
    sd["i16"] = torch.tensor([-32768, 32767, 12], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 127, 0], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 255, 17, 3], dtype=torch.uint8)
    sd["bool"] = torch.tensor([[True, False, True]], dtype=torch.bool)
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 8
    sd["transposed"] = base.t()  # 6×4, strides (1, 6)
    sd["sliced"] = base[1:, 2:5]  # offset 8, strides (6, 1)
    shared = torch.linspace(-1, 1, 10, dtype=torch.float32)
    sd["shared_a"] = shared
    sd["shared_b"] = shared[3:7]  # same storage, offset 3
    sd["shared_b_f16_view"] = torch.arange(6, dtype=torch.float16).reshape(2, 3).t()
    sd["param"] = torch.nn.Parameter(torch.tensor([0.25, 0.5], dtype=torch.float32))
    sd["scalar"] = torch.tensor(42.5, dtype=torch.float32)
    sd["empty"] = torch.zeros(0, 3, dtype=torch.float32)
    sd["big_rand"] = torch.randn(64, 33, dtype=torch.float32)
    torch.save(sd, OUT / "tensors.pt")
    back = torch.load(OUT / "tensors.pt", weights_only=True)
    assert back["shared_a"].untyped_storage().data_ptr() == back["shared_b"].untyped_storage().data_ptr()
    assert back["transposed"].stride() == (1, 6) and back["sliced"].storage_offset() == 8
    expected["tensors"] = {k: describe(v.detach()) for k, v in sd.items()}
    expected["tensors_order"] = list(sd.keys())
    (OUT / "tensors.expected.json").write_text(json.dumps(expected, indent=1))

    # ---- structures.pt: plain values ----
    structures = {
        "text": "héllo ✓",
        "small": 7,
        "medium": 40000,
        "negative": -5,
        "big": 2**40,
        "very_negative": -(2**62),
        "float": 0.1,
        "none": None,
        "yes": True,
        "no": False,
        "bytes": b"ab\x00\xff",
        "list": [1, "two", [3.0, None]],
        "tuple": (1, (2, 3), ()),
        "nested": {"a": {"b": {"c": [1, 2]}}, 5: "int key"},
        "set": {3},
        "size": torch.Size([2, 3]),
        "device": torch.device("cpu"),
        "dtype": torch.float16,
        "ordered": collections.OrderedDict([("z", 1), ("a", 2)]),
        "counter": collections.Counter({"x": 2}),
        "tensor_in_list": [torch.tensor([1.0, 2.0])],
    }
    # A tensor with Python attributes goes through torch._tensor._rebuild_from_type_v2, a
    # Parameter with attributes through _rebuild_parameter_with_state.
    with_attr = torch.tensor([1.0, 2.0])
    with_attr.note = 3
    param_with_attr = torch.nn.Parameter(torch.tensor([4.0, -4.0], dtype=torch.float64))
    param_with_attr.note = "x"
    structures["tensor_with_attr"] = with_attr
    structures["param_with_attr"] = param_with_attr
    torch.save(structures, OUT / "structures.pt")
    torch.load(OUT / "structures.pt", weights_only=True)

    # ---- a tiny RDNet, saved by Birder's own writers ----
    from birder.common import fs_ops, lib
    from birder.conf import settings
    from birder.model_registry import registry
    from birder.version import __version__

    cfg = {"num_init_features": 8, "growth_rates": [8, 16], "num_blocks_list": [1, 1],
           "is_downsample_block": [False, True], "transition_compression_ratio": 0.5,
           "block_type_name": ["Block", "BlockESE"], "drop_path_rate": 0.0}
    classes = ["Coleoptera", "Diptera", "Hymenoptera", "Lepidoptera"]
    class_to_idx = {name: i for i, name in enumerate(classes)}
    rgb_stats = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}
    net = registry.net_factory("rdnet_t", len(classes), 3, config=cfg, size=(64, 48))
    seeded_params.fill_module(net, seed=7)
    from birder.net.base import get_signature

    signature = get_signature((1, 3, 64, 48), len(classes))
    with tempfile.TemporaryDirectory() as tmp:
        settings.MODELS_DIR = Path(tmp)
        fs_ops.checkpoint_model("tiny_rdnet", 3, net, signature, class_to_idx, rgb_stats, None, None, None, None,
                                external_config=cfg)
        written = fs_ops.model_path("tiny_rdnet", epoch=3)
        shutil.copy(written, OUT / "tiny_rdnet_3.pt")
    fs_ops.save_st(net, str(OUT / "tiny_rdnet_3.safetensors"), net.task, class_to_idx, signature, rgb_stats,
                   external_config=cfg)
    for path, st in ((OUT / "tiny_rdnet_3.pt", False), (OUT / "tiny_rdnet_3.safetensors", True)):
        loaded, info = fs_ops.load_model(torch.device("cpu"), "rdnet_t", path=path, inference=True, st=st)
        assert info.class_to_idx == class_to_idx and info.custom_config == cfg
        for k, v in loaded.state_dict().items():
            assert torch.equal(v, net.state_dict()[k]), k
    state = net.state_dict()
    tiny = {
        "order": list(state.keys()),
        "tensors": {k: describe(v) for k, v in state.items()},
        "num_parameters": sum(v.numel() for v in state.values()),
        "signature": signature,
        "class_to_idx": class_to_idx,
        "rgb_stats": {"mean": list(rgb_stats["mean"]), "std": list(rgb_stats["std"])},
        "config": cfg,
        "birder_version": __version__,
        "task": net.task,
        "input_size": [64, 48],
    }

    # Head file as tools/convert_model.py --head-only writes it.
    head_path = OUT / "tiny_rdnet_t_ibot-test-order.head.pt"
    torch.save({"state": net.classifier.state_dict(), "birder_version": __version__, "class_to_idx": class_to_idx},
               head_path)
    tiny["head"] = {"weight": describe(net.classifier.weight.detach()), "bias": describe(net.classifier.bias.detach())}
    (OUT / "tiny_rdnet.expected.json").write_text(json.dumps(tiny, indent=1))

    # ---- rdnet_t parameter count (the real network, 1000 classes) ----
    full = registry.net_factory("rdnet_t", 1000, 3, size=(224, 224)).state_dict()
    lines = ["# rdnet_t state_dict (birder 0.8.4, num_classes=1000, size 224): name shape"]
    lines += [f"{k} {list(v.shape)}" for k, v in full.items()]
    shared_txt = Path("/work/shared/reference/state_dict_rdnet_t.txt")
    if shared_txt.exists():
        assert shared_txt.read_text().strip().splitlines() == lines, "registry rdnet_t differs from shared reference"
    (OUT / "rdnet_t_state_dict.txt").write_text("\n".join(lines) + "\n")
    (OUT / "rdnet_t.expected.json").write_text(json.dumps({
        "num_parameters": sum(v.numel() for v in full.values()),
        "num_tensors": len(full),
        "trainable_parameters": sum(p.numel() for p in registry.net_factory("rdnet_t", 1000, 3).parameters()),
    }, indent=1))

    # ---- byte order, Zip64, legacy, deflate ----
    def swap(name, data):
        if "/data/" not in name:
            return b"big" if name.endswith("/byteorder") else data
        key = name.rsplit("/", 1)[1]
        # Element size of that storage, from the pickle (all tensors.pt storages).
        return np.frombuffer(data, dtype=np.uint8).reshape(-1, SIZES[key])[:, ::-1].tobytes()

    with zipfile.ZipFile(OUT / "tensors.pt") as z:
        pkl = z.read("tensors/data.pkl")
        entries = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    SIZES = {}

    # Map storage keys to element sizes by replaying the pickle's persistent ids.
    class PidReader(pickle.Unpickler):
        def find_class(self, module, name):
            if name.endswith("Storage"):
                return name
            if module == "collections":
                return getattr(collections, name)
            return lambda *a, **k: None

        def persistent_load(self, pid):
            _, stype, key, _, numel = pid
            SIZES[key] = {"FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "DoubleStorage": 8,
                          "LongStorage": 8, "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1,
                          "ByteStorage": 1, "BoolStorage": 1}[stype]
            return None
    PidReader(io.BytesIO(pkl)).load()
    rezip(OUT / "tensors.pt", OUT / "bigendian.pt", transform=swap)
    be = torch.load(OUT / "bigendian.pt", weights_only=True)
    for k, v in sd.items():
        assert torch.equal(be[k].detach(), v.detach()), k

    write_zip64(entries, OUT / "zip64.pt")
    z64 = torch.load(OUT / "zip64.pt", weights_only=True)
    for k, v in sd.items():
        assert torch.equal(z64[k].detach(), v.detach()), k

    torch.save({"w": torch.ones(2)}, OUT / "legacy.pt", _use_new_zipfile_serialization=False)
    rezip(OUT / "tensors.pt", OUT / "deflated.pt", compress=zipfile.ZIP_DEFLATED)

    # ---- hostile files ----
    refusals = {}
    hostile = {
        "hostile_os_system.pt": b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R.",
        "hostile_builtins_eval.pt": b"\x80\x02cbuiltins\neval\nX\x04\x00\x00\x001+1;\x85R.",
        "hostile_posix_system.pt": b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R.",
        "hostile_subprocess.pt": b"\x80\x02csubprocess\nPopen\nX\x02\x00\x00\x00id\x85R.",
        # A dict whose value is os.system applied: the GLOBAL sits deeper in the stream.
        "hostile_nested_global.pt": b"\x80\x02}(X\x01\x00\x00\x00acos\nsystem\nX\x02\x00\x00\x00id\x85Ru.",
    }
    for name, pkl_bytes in hostile.items():
        torch_archive(OUT / name, pkl_bytes)
    f32 = struct.pack("<6f", *range(6))
    torch_archive(OUT / "hostile_short_storage.pt", tensor_pickle("FloatStorage", 100, 0, (100,), (1,)), {"0": f32})
    torch_archive(OUT / "hostile_view_overrun.pt", tensor_pickle("FloatStorage", 6, 2, (2, 3), (3, 1)), {"0": f32})
    torch_archive(OUT / "hostile_negative_shape.pt", tensor_pickle("FloatStorage", 6, 0, (-1, 3), (3, 1)), {"0": f32})
    torch_archive(OUT / "hostile_overflow_shape.pt",
                  tensor_pickle("FloatStorage", 6, 0, (2**62, 2**62), (1, 1)), {"0": f32})
    torch_archive(OUT / "hostile_huge_numel.pt",
                  tensor_pickle("FloatStorage", 2**62, 0, (2,), (1,)), {"0": f32})

    # Legal for torch (a stride-0 view is never materialised), but 2^40 elements if converted.
    torch_archive(OUT / "broadcast_huge.pt", tensor_pickle("FloatStorage", 6, 0, (2**40,), (0,)), {"0": f32})
    assert torch.load(OUT / "broadcast_huge.pt", weights_only=True)["t"].shape == (2**40,)

    whole = (OUT / "tensors.pt").read_bytes()
    (OUT / "hostile_truncated.pt").write_bytes(whole[: len(whole) // 2])
    # Central-directory sizes of the first storage entry raised far beyond the file.
    with zipfile.ZipFile(OUT / "tensors.pt") as z:
        info = z.getinfo("tensors/data/0")
    data = bytearray(whole)
    pos = 0
    while True:
        pos = data.find(b"PK\x01\x02", pos)
        assert pos >= 0
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46: pos + 46 + name_len]) == b"tensors/data/0":
            struct.pack_into("<II", data, pos + 20, 0x7FFF0000, 0x7FFF0000)
            break
        pos += 4
    (OUT / "hostile_entry_overrun.pt").write_bytes(bytes(data))
    assert info.file_size < 0x7FFF0000

    for path in sorted(OUT.glob("hostile_*.pt")):
        refusals[path.name] = must_fail_torch(path)
    refusals["legacy.pt (weights_only loads it; BirderIO refuses)"] = "n/a"

    # safetensors: one valid file and broken variants of its header.
    from safetensors import safe_open
    from safetensors.torch import save_file

    def st_bytes(header: dict, data: bytes) -> bytes:
        h = json.dumps(header, separators=(",", ":")).encode()
        h += b" " * ((8 - len(h) % 8) % 8)
        return struct.pack("<Q", len(h)) + h + data

    payload = struct.pack("<6f", *range(6)) + struct.pack("<4f", 1, 2, 3, 4)
    good = {"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
            "b": {"dtype": "F32", "shape": [4], "data_offsets": [24, 40]},
            "__metadata__": {"k": "v"}}
    (OUT / "plain.safetensors").write_bytes(st_bytes(good, payload))
    with safe_open(OUT / "plain.safetensors", framework="pt") as f:
        assert f.metadata() == {"k": "v"} and f.get_tensor("a").shape == (2, 3)
    broken = {
        "hostile_overlap.safetensors": {**good, "b": {"dtype": "F32", "shape": [4], "data_offsets": [16, 32]}},
        "hostile_out_of_file.safetensors": {**good, "b": {"dtype": "F32", "shape": [4], "data_offsets": [24, 4000]}},
        "hostile_size_mismatch.safetensors": {**good, "a": {"dtype": "F32", "shape": [2, 4], "data_offsets": [0, 24]}},
        "hostile_negative_shape.safetensors": {**good, "a": {"dtype": "F32", "shape": [-2, -3], "data_offsets": [0, 24]}},
    }
    for name, header in broken.items():
        (OUT / name).write_bytes(st_bytes(header, payload))
    (OUT / "hostile_huge_header.safetensors").write_bytes(struct.pack("<Q", 2**62) + b"{}" + payload)
    (OUT / "hostile_header_past_end.safetensors").write_bytes(struct.pack("<Q", 1000) + b'{"a":1}')
    for path in sorted(OUT.glob("hostile_*.safetensors")):
        try:
            with safe_open(path, framework="pt") as f:
                for k in f.keys():
                    f.get_tensor(k)
        except Exception as e:  # noqa: BLE001
            refusals[path.name] = f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
        else:
            raise AssertionError(f"safetensors accepted {path.name}")
    (OUT / "refusals_by_reference.json").write_text(json.dumps(refusals, indent=1))

    # .npy: float32 C order, float64, int64, Fortran order, big-endian.
    arr = (np.arange(12, dtype=np.float32).reshape(3, 4) - 5) / 4
    np.save(OUT / "f32.npy", arr)
    np.save(OUT / "f64.npy", arr.astype(np.float64) / 3)
    np.save(OUT / "i64.npy", np.array([[-3, 2**40], [5, 0]], dtype=np.int64))
    np.save(OUT / "fortran.npy", np.asfortranarray(arr))
    np.save(OUT / "bigendian.npy", arr.astype(">f4"))
    (OUT / "npy.expected.json").write_text(json.dumps({
        "f32": arr.reshape(-1).astype(np.float64).tolist(),
        "f64": (arr.astype(np.float64) / 3).reshape(-1).tolist(),
        "i64": [-3, 2**40, 5, 0],
    }, indent=1))

    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total} bytes, to {OUT}")
    for k, v in refusals.items():
        print(f"  reference refuses {k}: {v}")


if __name__ == "__main__":
    main()
