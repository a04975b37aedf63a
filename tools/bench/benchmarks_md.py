"""What the benchmark scripts share: the machine's CPU name and writing a table into its section of
BENCHMARKS.md (between `<!-- NAME:begin -->` and `<!-- NAME:end -->`, appended under `heading` the
first time)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            return next((l.split(":", 1)[1].strip() for l in info if l.startswith("model name")), "unknown CPU")
    except OSError:
        return "unknown CPU"


def markers(section: str) -> tuple[str, str]:
    return f"<!-- {section}:begin -->", f"<!-- {section}:end -->"


def write_section(section: str, heading: str, table: str) -> None:
    """`table` must start and end with the section's markers."""
    begin, end = markers(section)
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if begin in text:
        text = text[: text.index(begin)] + table + text[text.index(end) + len(end):]
    else:
        text += f"\n## {heading}\n\n{table}\n"
    path.write_text(text)
