"""Markdown tables and the marker-delimited section of docs/benchmarks.md."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["replace_section", "table"]

_INTRO = """# Benchmarks

Measured figures for recsys_core. Each section below is written by one script
between its own `<!-- BEGIN name -->` / `<!-- END name -->` markers; a script
rewrites only its own section, so sections from other scripts are preserved.
Everything outside the markers is edited by hand.

## Machine

Every generated section records the machine and software it ran on (CPU,
cores, RAM, Python, numpy, scipy, Surprise, BLAS and its threads, date), since
sections may come from different runs. Compare figures only within a section.
"""


def table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str = "") -> str:
    """A GitHub markdown table; ``align`` has one of ``l``/``r`` per column (default: l, then r)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def replace_section(path: Path, name: str, body: str) -> None:
    """Write ``body`` between the ``name`` markers of ``path`` (created with an intro if absent).

    Without the markers the section is appended. Refuses a file whose markers
    are unbalanced rather than guessing which part to overwrite.
    """
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    block = f"{begin}\n{body.strip()}\n{end}\n"
    text = path.read_text(encoding="utf-8") if path.exists() else _INTRO
    n_begin, n_end = text.count(begin), text.count(end)
    if (n_begin, n_end) == (0, 0):
        text = text.rstrip("\n") + "\n\n" + block
    elif (n_begin, n_end) == (1, 1) and text.index(begin) < text.index(end):
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        text = head + block + ("\n" + tail if tail else "")
    else:
        raise ValueError(
            f"{path} has {n_begin} '{begin}' and {n_end} '{end}' markers; expected one of each "
            "in that order (or none). Fix the file by hand."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
