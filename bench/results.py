"""What a benchmark reports: figures with units, ratios with both sides, and how to print them.

A `Figure` is one measured number with its unit. A `Ratio` is ours divided by
theirs, and keeps both figures, so a reader can always see what was compared.
`Report` collects one run and writes `latest.json` and `latest.md`.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["BenchResult", "Figure", "Ratio", "Report", "mb_per_s"]

MB = 1_000_000


def mb_per_s(name: str, size_bytes: int, seconds: float, note: str = "") -> Figure:
    """Throughput as a figure in MB/s (10^6 bytes per second)."""
    return Figure(name, round(size_bytes / MB / seconds, 2), "MB/s", note)


@dataclass(frozen=True)
class Figure:
    """One measured number.

    Attributes:
        name: What it is, e.g. `spisync MB/s`.
        value: The number.
        unit: Its unit (`s`, `MB/s`, `MiB`, `%`, `msgs/s`, ...).
        note: How it was measured, where that is not obvious.
    """

    name: str
    value: float
    unit: str
    note: str = ""


@dataclass(frozen=True)
class Ratio:
    """Ours over theirs, with both sides (same unit) and the aim, if the issue sets one."""

    name: str
    ours: Figure
    theirs: Figure
    aim: float | None = None

    @property
    def value(self) -> float:
        """`ours / theirs`."""
        return round(self.ours.value / self.theirs.value, 3) if self.theirs.value else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON form: value, aim, and both sides as figures."""
        return {
            "name": self.name,
            "value": self.value,
            "unit": "ratio",
            "aim": self.aim,
            "meets_aim": None if self.aim is None else self.value >= self.aim,
            "ours": asdict(self.ours),
            "theirs": asdict(self.theirs),
        }


@dataclass
class BenchResult:
    """What one benchmark measured (or why it could not).

    Attributes:
        name: The benchmark's name (`--only NAME`).
        title: One line saying what it measures.
        status: `ok`, `failed` (with `error`) or `skipped`.
        figures: Measured numbers.
        ratios: Comparisons measured side by side in the same run.
        aims: Aims the issue sets for figures: figure name -> (`<` or `>=`, bound).
        notes: Anything a reader needs to judge the numbers.
        seconds: How long the benchmark took, set-up included.
    """

    name: str
    title: str
    status: str = "ok"
    error: str = ""
    figures: list[Figure] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    aims: dict[str, tuple[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, figure: Figure) -> Figure:
        """Record a figure and return it."""
        self.figures.append(figure)
        return figure

    def meets(self, figure: Figure) -> bool | None:
        """Whether a figure meets its aim (None when it has none)."""
        if figure.name not in self.aims:
            return None
        op, bound = self.aims[figure.name]
        return figure.value < bound if op == "<" else figure.value >= bound

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        figures = []
        for figure in self.figures:
            entry = asdict(figure)
            if figure.name in self.aims:
                op, bound = self.aims[figure.name]
                entry["aim"] = f"{op} {bound:g} {figure.unit}"
                entry["meets_aim"] = self.meets(figure)
            figures.append(entry)
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "error": self.error,
            "seconds": round(self.seconds, 1),
            "figures": figures,
            "ratios": [r.as_dict() for r in self.ratios],
            "notes": self.notes,
        }


def _fmt(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 10 else f"{value:,.1f}"


def _aim_mark(meets: bool | None) -> str:
    return {None: "", True: "meets aim", False: "BELOW AIM"}[meets]


@dataclass
class Report:
    """One run of the benchmarks."""

    quick: bool
    results: list[BenchResult] = field(default_factory=list)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    notes: list[str] = field(default_factory=list)

    def environment(self) -> dict[str, Any]:
        """Where the run happened: enough to judge how noisy it was."""
        return {
            "started_at": self.started_at,
            "quick": self.quick,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "unix_time_at_end": int(time.time()),
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON form of the whole run."""
        return {
            "environment": self.environment(),
            "notes": self.notes,
            "benchmarks": [r.as_dict() for r in self.results],
        }

    def rows(self) -> list[tuple[str, str, str, str, str]]:
        """Table rows: benchmark, figure, value, unit, remark."""
        rows: list[tuple[str, str, str, str, str]] = []
        for result in self.results:
            if result.status != "ok":
                rows.append((result.name, result.status.upper(), "", "", result.error[:160]))
            rows.extend(
                (result.name, f.name, _fmt(f.value), f.unit, _aim_mark(result.meets(f)))
                for f in result.figures
            )
            for ratio in result.ratios:
                sides = (
                    f"{_fmt(ratio.ours.value)} / {_fmt(ratio.theirs.value)} {ratio.ours.unit}"
                    + (f"; aim >= {ratio.aim:g}, " if ratio.aim is not None else "")
                    + (_aim_mark(ratio.value >= ratio.aim) if ratio.aim is not None else "")
                )
                rows.append((result.name, ratio.name, f"{ratio.value:.3f}", "ratio", sides))
        return rows

    def table(self) -> str:
        """A plain aligned table for the terminal."""
        header = ("benchmark", "figure", "value", "unit", "remark")
        rows = [header, *self.rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = []
        for row in rows:
            cells = [row[i].rjust(widths[i]) if i == 2 else row[i].ljust(widths[i]) for i in (0, 1)]
            cells += [row[2].rjust(widths[2]), row[3].ljust(widths[3]), row[4]]
            lines.append("  ".join(cells).rstrip())
        return "\n".join(lines)

    def markdown(self) -> str:
        """The results as a markdown document with one table and the notes."""
        env = self.environment()
        lines = [
            "# spisync benchmarks",
            "",
            (
                f"Run {env['started_at']} ({'quick sizes' if self.quick else 'full sizes'}), "
                f"Python {env['python']}, {env['cpus']} CPUs, "
                f"load average at the end {env['load_average_at_end']}."
            ),
            "",
            "| benchmark | figure | value | unit | remark |",
            "|---|---|---:|---|---|",
        ]
        lines += [f"| {' | '.join(c.replace('|', '/') for c in row)} |" for row in self.rows()]
        notes = list(self.notes)
        for result in self.results:
            notes += [f"**{result.name}**: {n}" for n in result.notes]
        if notes:
            lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
        return "\n".join(lines) + "\n"

    def write(self, directory: Path) -> tuple[Path, Path]:
        """Write `latest.json` and `latest.md` into `directory` (atomically each)."""
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in (
            ("latest.json", json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n"),
            ("latest.md", self.markdown()),
        ):
            tmp = directory / f"{name}.tmp"
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(directory / name)
            written.append(directory / name)
        return written[0], written[1]
