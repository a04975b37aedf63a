"""Parquet fixtures for BirderIO's reader, written by Birder's own code and pyarrow, and a check
that files written by the Swift writer are read back by Birder's loader.

Run from the repository root with the reference environment (Birder 0.8.4, pyarrow, polars):

    /work/venv-ref/bin/python tools/reference/make_parquet_fixtures.py

Writes Tests/Fixtures/parquet/:
  birder_embeddings.parquet      Birder's `predict --output-format parquet` embeddings writer
                                 (birder.scripts.predict._init_array_parquet_writer +
                                 save_embeddings_parquet, pyarrow defaults: snappy, dictionary
                                 pages, data page v1), with labels, in two batches = two row groups.
  birder_embeddings_nolabel.parquet  the same writer without labels.
  zstd_plain.parquet             the embeddings schema, zstd, no dictionary, data page v1.
  v2_pages.parquet               the embeddings schema, snappy, dictionary, data page v2.
  uncompressed_many_groups.parquet  no compression, dictionary, row groups of 3 rows, small pages.
  polars.parquet                 written by polars' own writer (zstd, its defaults).
  birder_output.parquet          Birder's `--save-output` parquet (sample, label, prediction,
                                 one float32 column per class): not an embeddings file.
  expected.json                  sample, label and embedding of every row of each file.
  hostile_*.parquet              damaged files the reader must refuse with a clear error (pyarrow
                                 refuses each too; checked): a truncated footer, a footer length
                                 past the file, a file cut in half, not Parquet at all, a page
                                 header claiming 1 GiB in a 4 KiB file.

With --check-swift FILE..., instead reads each FILE (written by the Swift writer) with
birder.eval._embeddings.load_embeddings, pyarrow and polars, and prints what they see.
"""

import json
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from birder.eval._embeddings import load_embeddings
from birder.scripts.predict import _init_array_parquet_writer
from birder.scripts.predict import _init_parquet_writer
from birder.scripts.predict import save_embeddings_parquet
from birder.scripts.predict import save_output_parquet

OUT = Path("Tests/Fixtures/parquet")
D = 8


def rows(n: int, seed: int):
    rng = np.random.default_rng(seed)
    samples = [f"photos/class_{i % 3}/img_{i:03d}.jpeg" for i in range(n)]
    samples[1] = "photos/ünïcode/naïve ∑.png"
    labels = np.array([i % 3 for i in range(n)], dtype=np.int64)
    emb = rng.standard_normal((n, D)).astype(np.float32)
    emb[0, 0] = 0.0
    emb[0, 1] = -0.0
    emb[2, :] = emb[3, :]  # repeated rows exercise the dictionary
    return samples, labels, emb


def birder_written(path: Path, with_labels: bool) -> dict:
    samples, labels, emb = rows(7, 1)
    columns = ["sample", "label"] if with_labels else ["sample"]
    writer = _init_array_parquet_writer(columns, "embedding", D, path)
    save_embeddings_parquet(writer, samples[:4], [emb[:4]], labels=labels[:4] if with_labels else None)
    save_embeddings_parquet(writer, samples[4:], [emb[4:]], labels=labels[4:] if with_labels else None)
    writer.close()
    return expected(samples, labels if with_labels else None, emb)


def schema(with_labels: bool) -> pa.Schema:
    fields = [pa.field("sample", pa.string())]
    if with_labels:
        fields.append(pa.field("label", pa.int64()))
    fields.append(pa.field("embedding", pa.list_(pa.float32(), list_size=D)))
    return pa.schema(fields)


def table(samples, labels, emb) -> pa.Table:
    data = {"sample": pa.array(samples, type=pa.string())}
    if labels is not None:
        data["label"] = pa.array(labels, type=pa.int64())
    data["embedding"] = pa.FixedSizeListArray.from_arrays(pa.array(emb.reshape(-1), type=pa.float32()), D)
    return pa.Table.from_pydict(data, schema=schema(labels is not None))


def expected(samples, labels, emb) -> dict:
    return {
        "samples": samples,
        "labels": None if labels is None else [int(v) for v in labels],
        "dimension": D,
        # float32 bit patterns, so -0.0 and exact values survive JSON
        "embedding_bits": [int(v) for v in emb.reshape(-1).view(np.uint32)],
    }


def check_birder_reads(path: Path, exp: dict) -> None:
    df = load_embeddings(path, with_label=exp["labels"] is not None)
    got = df["embedding"].to_numpy()
    assert got.dtype == np.float32 and got.shape == (len(exp["samples"]), exp["dimension"]), (got.dtype, got.shape)
    want = np.array(exp["embedding_bits"], dtype=np.uint32).view(np.float32).reshape(got.shape)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    if exp["labels"] is not None:
        assert df["label"].to_list() == exp["labels"]
    ids = [Path(s).stem for s in exp["samples"]]
    assert df["id"].to_list() == ids, (df["id"].to_list(), ids)


def make_fixtures() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    exp = {}
    exp["birder_embeddings.parquet"] = birder_written(OUT / "birder_embeddings.parquet", True)
    exp["birder_embeddings_nolabel.parquet"] = birder_written(OUT / "birder_embeddings_nolabel.parquet", False)

    samples, labels, emb = rows(6, 2)
    pq.write_table(table(samples, None, emb), OUT / "zstd_plain.parquet", compression="zstd", use_dictionary=False)
    exp["zstd_plain.parquet"] = expected(samples, None, emb)

    samples, labels, emb = rows(5, 3)
    pq.write_table(table(samples, labels, emb), OUT / "v2_pages.parquet", data_page_version="2.0")
    exp["v2_pages.parquet"] = expected(samples, labels, emb)

    samples, labels, emb = rows(10, 4)
    pq.write_table(
        table(samples, labels, emb), OUT / "uncompressed_many_groups.parquet",
        compression="none", row_group_size=3, data_page_size=64, write_batch_size=4,
    )
    exp["uncompressed_many_groups.parquet"] = expected(samples, labels, emb)

    samples, labels, emb = rows(5, 5)
    pl.DataFrame({
        "sample": samples,
        "label": labels,
        "embedding": pl.Series(emb).cast(pl.Array(pl.Float32, D)),
    }).write_parquet(OUT / "polars.parquet")
    exp["polars.parquet"] = expected(samples, labels, emb)

    for name, e in exp.items():
        check_birder_reads(OUT / name, e)

    # Birder's --save-output parquet: one float column per class, not an embeddings file.
    names = ["alpha", "beta", "gamma"]
    samples, labels, _ = rows(4, 6)
    outs = np.random.default_rng(6).random((4, 3)).astype(np.float32)
    writer = _init_parquet_writer(["sample", "label", "prediction"], names, OUT / "birder_output.parquet")
    save_output_parquet(writer, samples, names, outs, labels=labels)
    writer.close()
    exp["birder_output.parquet"] = {
        "classes": names, "samples": samples, "labels": [int(v) for v in labels],
        "prediction": [names[i] for i in outs.argmax(axis=1)],
        "probability_bits": [int(v) for v in outs.reshape(-1).view(np.uint32)],
    }

    make_hostile(exp)
    (OUT / "expected.json").write_text(json.dumps(exp, indent=1, ensure_ascii=False) + "\n")
    for p in sorted(OUT.glob("*.parquet")):
        print(f"{p.name}: {p.stat().st_size} bytes")


def refused_by_pyarrow(path: Path) -> str:
    try:
        pq.read_table(path)
    except Exception as e:  # noqa: BLE001 - any refusal is what we want to see
        return type(e).__name__
    return "read"


def make_hostile(exp: dict) -> None:
    base = (OUT / "uncompressed_many_groups.parquet").read_bytes()
    footer_len = int.from_bytes(base[-8:-4], "little")
    hostile = {
        # the footer cut in half: the magic is there, the Thrift is not
        "hostile_truncated_footer.parquet": base[: len(base) - 8 - footer_len // 2] + base[-8:],
        # a footer length larger than the file
        "hostile_footer_past_end.parquet": base[:-8] + (10**9).to_bytes(4, "little") + b"PAR1",
        # the file cut before the footer
        "hostile_cut.parquet": base[: len(base) // 2],
        # not Parquet at all
        "hostile_not_parquet.parquet": b"PAR1" + b"\x00" * 16 + b"PAR2",
    }
    # the first data page's header claims a compressed size far past its column chunk
    meta = pq.ParquetFile(OUT / "uncompressed_many_groups.parquet").metadata
    col = meta.row_group(0).column(0)
    start = col.dictionary_page_offset if col.has_dictionary_page else col.data_page_offset
    # PageHeader field 3 (compressed_page_size, i32 zigzag varint) follows field 1 (type) and 2
    # (uncompressed size): rewrite both sizes as a large varint
    data = bytearray(base)
    hdr = parse_page_header_sizes(data, start)
    hostile["hostile_page_overrun.parquet"] = bytes(
        data[: hdr["size_start"]] + encode_sizes(2**30) + data[hdr["size_end"]:])
    for name, blob in hostile.items():
        (OUT / name).write_bytes(blob)
        exp[name] = {"pyarrow": refused_by_pyarrow(OUT / name)}


def zigzag_varint(v: int) -> bytes:
    z = (v << 1) ^ (v >> 31)
    out = bytearray()
    while True:
        b = z & 0x7F
        z >>= 7
        if z:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_sizes(size: int) -> bytes:
    # field 2 (delta 1, i32 = type 5) then field 3 (delta 1, i32)
    return bytes([0x15]) + zigzag_varint(size) + bytes([0x15]) + zigzag_varint(size)


def parse_page_header_sizes(data: bytearray, pos: int) -> dict:
    assert data[pos] == 0x15  # field 1, i32: page type
    pos += 1
    while data[pos] & 0x80:
        pos += 1
    pos += 1
    size_start = pos
    for _ in range(2):
        assert data[pos] == 0x15
        pos += 1
        while data[pos] & 0x80:
            pos += 1
        pos += 1
    return {"size_start": size_start, "size_end": pos}


def check_swift(paths: list[str]) -> None:
    for path in paths:
        pf = pq.ParquetFile(path)
        print(f"{path}: pyarrow schema {pf.schema_arrow}; row groups {pf.metadata.num_row_groups}, rows {pf.metadata.num_rows}")
        has_label = "label" in pf.schema_arrow.names
        df = load_embeddings(path, with_label=has_label)
        emb = df["embedding"].to_numpy()
        print(f"  birder load_embeddings: {df.shape} columns {df.columns} dtypes {df.dtypes}; embedding array {emb.dtype} {emb.shape}")
        t = pq.read_table(path)
        print(f"  first sample {t['sample'][0]}, first embedding[:4] {emb[0][:4].tolist()}")
        sidecar = Path(path + ".expected.json")
        if sidecar.exists():
            want = json.loads(sidecar.read_text())
            assert t["sample"].to_pylist() == want["samples"]
            if want.get("labels") is not None:
                assert t["label"].to_pylist() == want["labels"]
            bits = np.array(want["embedding_bits"], dtype=np.uint32).view(np.float32).reshape(emb.shape)
            assert np.array_equal(emb.view(np.uint32), bits.view(np.uint32))
            print("  equal to the Swift side's values bit for bit")
        polars_df = pl.read_parquet(path)
        print(f"  polars: {polars_df.schema}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--check-swift":
        check_swift(sys.argv[2:])
    else:
        make_fixtures()
