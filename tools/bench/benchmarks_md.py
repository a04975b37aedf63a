"""What the benchmark scripts share: the machine's CPU (name, generation, vector instruction sets)
and writing a table into its section of BENCHMARKS.md (between `<!-- NAME:begin -->` and
`<!-- NAME:end -->`, added under `heading` the first time)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty where there is none)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def cpu_name() -> str:
    return _cpuinfo().get("model name", "unknown CPU")


def cpu_flags() -> set[str]:
    return set(_cpuinfo().get("flags", "").split())


# AMD family 0x19 model ranges (AMD's revision guides): Zen 4 is Genoa 0x10–0x1F, Raphael
# 0x60–0x6F, Phoenix 0x70–0x7F, Bergamo/Siena 0xA0–0xAF; the rest of family 0x19 is Zen 3.
_ZEN4_MODELS = [(0x10, 0x1F), (0x60, 0x7F), (0xA0, 0xAF)]


def cpu_generation(info: dict[str, str] | None = None) -> tuple[str, str]:
    """(label, slug) of the CPU's microarchitecture, e.g. ("Zen 3", "zen3"). Cloud VMs often name
    the CPU only "AMD EPYC", so AMD's family and model numbers decide; other vendors fall back to
    the model name."""
    info = _cpuinfo() if info is None else info
    name = info.get("model name", "unknown CPU")
    try:
        family, model = int(info.get("cpu family", "")), int(info.get("model", ""))
    except ValueError:
        family = model = -1
    if info.get("vendor_id") == "AuthenticAMD" or name.startswith("AMD"):
        if family == 0x19:
            zen4 = any(lo <= model <= hi for lo, hi in _ZEN4_MODELS) or "avx512f" in info.get("flags", "").split()
            return ("Zen 4", "zen4") if zen4 else ("Zen 3", "zen3")
        if family == 0x1A:
            return "Zen 5", "zen5"
        if family == 0x17:
            return "Zen 2 or earlier", "zen2"
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unknown"
    return name, slug


def vector_isa(flags: set[str] | None = None) -> str:
    """The widest vector instruction sets the CPU reports, as a benchmark table names them."""
    flags = cpu_flags() if flags is None else flags
    if "avx512f" in flags:
        extras = [f for f in ("avx512_bf16", "avx512_vnni", "amx_bf16") if f in flags]
        return "AVX-512" + (" (" + ", ".join(extras) + ")" if extras else "")
    if "avx2" in flags:
        return "AVX2 + FMA" if "fma" in flags else "AVX2"
    return "no AVX2"


def markers(section: str) -> tuple[str, str]:
    return f"<!-- {section}:begin -->", f"<!-- {section}:end -->"


def write_section(section: str, heading: str, table: str, after: list[str] | None = None) -> None:
    """`table` must start and end with the section's markers. Only that section changes; a new one
    goes right after the last of the `after` sections present (else at the end of the file)."""
    begin, end = markers(section)
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if begin in text:
        text = text[: text.index(begin)] + table + text[text.index(end) + len(end):]
    else:
        block = f"\n## {heading}\n\n{table}\n"
        anchors = [text.index(markers(s)[1]) + len(markers(s)[1]) for s in after or [] if markers(s)[1] in text]
        if anchors:
            at = max(anchors)
            # After the paragraph that follows the anchor section, before the next heading.
            next_heading = text.find("\n## ", at)
            at = len(text) if next_heading < 0 else next_heading + 1
            text = text[:at] + block.lstrip("\n") + "\n" + text[at:]
        else:
            text += block
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(path)
