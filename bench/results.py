"""What a benchmark reports: figures with units, ratios with both sides, and how to print them.

A `Figure` is one measured number with its unit. A `Ratio` is ours divided by
theirs, and keeps both figures, so a reader can always see what was compared.
A benchmark runs `--repeat N` times; `merge` folds the repetitions into one
result whose every figure is the median of its runs, with the runs themselves
(and so min and max) kept. `Report` collects one run of the benchmarks and
writes `latest.json` and `latest.md`.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["BenchResult", "Figure", "Ratio", "Report", "kept_results", "mb_per_s", "merge"]

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
        runs: The value of every repetition (the value is their median); empty
            for a single run.
    """

    name: str
    value: float
    unit: str
    note: str = ""
    runs: tuple[float, ...] = ()

    @property
    def low(self) -> float:
        """The smallest of the runs (the value itself for a single run)."""
        return min(self.runs) if self.runs else self.value

    @property
    def high(self) -> float:
        """The largest of the runs."""
        return max(self.runs) if self.runs else self.value

    def as_dict(self) -> dict[str, Any]:
        """JSON form: the median as `value`, with `runs`, `min` and `max`."""
        return asdict(self) | {
            "runs": list(self.runs or (self.value,)),
            "min": self.low,
            "max": self.high,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Figure:
        """Read back `as_dict`'s form."""
        runs = tuple(data.get("runs", ()))
        return cls(data["name"], data["value"], data["unit"], data.get("note", ""),
                   runs if len(runs) > 1 else ())  # fmt: skip


@dataclass(frozen=True)
class Ratio:
    """Ours over theirs, with both sides (same unit) and the aim, if the issue sets one."""

    name: str
    ours: Figure
    theirs: Figure
    aim: float | None = None
    runs: tuple[float, ...] = ()

    @property
    def value(self) -> float:
        """The median of the per-repetition ratios, or `ours / theirs` for one run.

        Each repetition's ratio compares two contenders measured minutes apart
        in the same repetition, which is steadier than a ratio of medians.
        """
        if self.runs:
            return round(statistics.median(self.runs), 3)
        return _ratio(self.ours.value, self.theirs.value)

    def as_dict(self) -> dict[str, Any]:
        """JSON form: value, aim, and both sides as figures."""
        return {
            "name": self.name,
            "value": self.value,
            "unit": "ratio",
            "aim": self.aim,
            "meets_aim": None if self.aim is None else self.value >= self.aim,
            "runs": list(self.runs or (self.value,)),
            "min": min(self.runs or (self.value,)),
            "max": max(self.runs or (self.value,)),
            "ours": self.ours.as_dict(),
            "theirs": self.theirs.as_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ratio:
        """Read back `as_dict`'s form."""
        runs = tuple(data.get("runs", ()))
        return cls(
            data["name"],
            Figure.from_dict(data["ours"]),
            Figure.from_dict(data["theirs"]),
            data.get("aim"),
            runs if len(runs) > 1 else (),
        )


def _ratio(ours: float, theirs: float) -> float:
    return round(ours / theirs, 3) if theirs else 0.0


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
        repetition: Which repetition this is (0-based); benchmarks with several
            contenders rotate their order by it.
        load_before: The machine's 1/5/15-minute load average before the run.
        load_after: The same after it.
        kept: Temp dirs kept by `--keep` (hub data included), one per repetition.
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
    repetition: int = 0
    load_before: list[float] = field(default_factory=list)
    load_after: list[float] = field(default_factory=list)
    run_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    kept: list[str] = field(default_factory=list)

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
            entry = figure.as_dict()
            if figure.name in self.aims:
                op, bound = self.aims[figure.name]
                entry["aim"] = f"{op} {bound:g} {figure.unit}"
                entry["meets_aim"] = self.meets(figure)
            figures.append(entry)
        return {
            "name": self.name,
            "title": self.title,
            "run_at": self.run_at,
            "status": self.status,
            "error": self.error,
            "seconds": round(self.seconds, 1),
            "load_before": self.load_before,
            "load_after": self.load_after,
            "kept": self.kept,
            "figures": figures,
            "ratios": [r.as_dict() for r in self.ratios],
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchResult:
        """Read back `as_dict`'s form (a result kept from an earlier run)."""
        result = cls(
            name=data["name"],
            title=data["title"],
            status=data["status"],
            error=data.get("error", ""),
            figures=[Figure.from_dict(f) for f in data["figures"]],
            ratios=[Ratio.from_dict(r) for r in data["ratios"]],
            notes=list(data["notes"]),
            seconds=data.get("seconds", 0.0),
            load_before=list(data.get("load_before", [])),
            load_after=list(data.get("load_after", [])),
            run_at=data.get("run_at", ""),
            kept=list(data.get("kept", [])),
        )
        for figure in data["figures"]:
            if "aim" in figure:
                op, bound, _ = figure["aim"].split(" ", 2)
                result.aims[figure["name"]] = (op, float(bound))
        return result


def kept_results(path: Path, replaced: set[str], *, quick: bool) -> list[BenchResult]:
    """The results in an earlier `latest.json` other than `replaced`, in their order.

    `--only` reruns some benchmarks; the others keep their last figures, each
    with the time of its own run (`run_at`), so `latest.json` always carries
    every figure. Nothing is kept from a file that is missing or unreadable, or
    that holds the other sizes (quick against full).
    """
    if not path.exists():
        return []
    try:
        earlier = json.loads(path.read_text(encoding="utf-8"))
        if earlier["environment"]["quick"] != quick:
            return []
        return [
            BenchResult.from_dict(entry)
            for entry in earlier["benchmarks"]
            if entry["name"] not in replaced
        ]
    except (OSError, ValueError, KeyError) as exc:
        print(f"{path}: earlier results not kept ({exc})")
        return []


def _merge_figures(runs: list[Figure]) -> Figure:
    values = tuple(f.value for f in runs)
    median = statistics.median(values)
    return Figure(runs[0].name, round(median, 3), runs[0].unit, runs[0].note, values)


def merge(repetitions: list[BenchResult]) -> BenchResult:
    """Fold the repetitions of one benchmark into one result (medians with their runs).

    A figure or ratio missing from some repetition (one that failed) is the
    median of the repetitions that have it; the result is `failed` if any
    repetition failed, with the first error.
    """
    first = repetitions[0]
    merged = BenchResult(
        name=first.name, title=first.title, aims=dict(first.aims), run_at=first.run_at
    )
    merged.seconds = sum(r.seconds for r in repetitions)
    merged.load_before = first.load_before
    merged.load_after = repetitions[-1].load_after
    merged.kept = [path for r in repetitions for path in r.kept]
    failed = [r for r in repetitions if r.status != "ok"]
    if failed:
        merged.status, merged.error = failed[0].status, failed[0].error
    figures: dict[str, list[Figure]] = {}
    ratios: dict[str, list[Ratio]] = {}
    for rep in repetitions:
        for figure in rep.figures:
            figures.setdefault(figure.name, []).append(figure)
        for ratio in rep.ratios:
            ratios.setdefault(ratio.name, []).append(ratio)
        merged.aims |= rep.aims
    # A note every repetition made alike is said once; the others name their repetition.
    common = set.intersection(*(set(r.notes) for r in repetitions))
    merged.notes = [n for n in first.notes if n in common]
    merged.notes += [
        f"repetition {rep.repetition + 1}: {note}"
        for rep in repetitions
        for note in rep.notes
        if note not in common
    ]
    merged.figures = [_merge_figures(runs) for runs in figures.values()]
    merged.ratios = [
        Ratio(
            name,
            _merge_figures([r.ours for r in runs]),
            _merge_figures([r.theirs for r in runs]),
            runs[0].aim,
            tuple(r.value for r in runs),
        )
        for name, runs in ratios.items()
    ]
    return merged


def _fmt(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 10 else f"{value:,.1f}"


def _spread(runs: tuple[float, ...]) -> str:
    """`min-max of N` for several runs, empty for one."""
    if len(runs) < 2:
        return ""
    return f"min {_fmt(min(runs))}, max {_fmt(max(runs))} of {len(runs)}"


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
        } | self.environment_extra

    environment_extra: dict[str, Any] = field(default_factory=dict)

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
                (result.name, f.name, _fmt(f.value), f.unit,
                 "; ".join(x for x in (_spread(f.runs), _aim_mark(result.meets(f))) if x))
                for f in result.figures
            )  # fmt: skip
            for ratio in result.ratios:
                sides = (
                    (f"{_spread(ratio.runs)}; " if ratio.runs and len(ratio.runs) > 1 else "")
                    + f"{_fmt(ratio.ours.value)} / {_fmt(ratio.theirs.value)} {ratio.ours.unit}"
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
                f"event loop {env.get('event_loop', '?')}, "
                f"{env.get('repeat', 1)} repetition(s) (value = median; remark = min, max), "
                f"caches: {env.get('caches', '?')}; "
                f"load average before {env.get('load_average_at_start', '?')}, "
                f"at the end {env['load_average_at_end']}."
            ),
            "",
            "| benchmark | figure | value | unit | remark |",
            "|---|---|---:|---|---|",
        ]
        lines += [f"| {' | '.join(c.replace('|', '/') for c in row)} |" for row in self.rows()]
        notes = list(self.notes)
        for result in self.results:
            notes.append(
                f"**{result.name}**: run {result.run_at}; load average before "
                f"{result.load_before}, after {result.load_after}"
            )
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
