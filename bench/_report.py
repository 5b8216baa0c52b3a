"""Timing, the alternating runner and the reporting of the benchmarks (table, JSON, plot).

A :class:`Figure` is one measurement: the project's path and its baseline, run on the same data,
``repeat`` times each, alternating (project, baseline, project, baseline, ...), so that a slow
moment of the shared machine hits both; the medians, the throughput and the ratio are reported
next to the issue's target.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TypeVar

T = TypeVar("T")

#: ``ratio_max``: project/baseline must be at most ``value``; ``speedup_min``: baseline/project
#: (per item) at least ``value``; ``seconds_max``: the project's median at most ``value`` seconds.
TargetKind = Literal["ratio_max", "speedup_min", "seconds_max", "none"]


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    value: float = 0.0

    def describe(self) -> str:
        if self.kind == "ratio_max":
            return f"<= {self.value:g}x"
        if self.kind == "speedup_min":
            return f">= {self.value:g}x faster"
        if self.kind == "seconds_max":
            return f"<= {self.value:g} s"
        return "-"

    def met(self, figure: Figure) -> bool | None:
        if self.kind == "ratio_max":
            return figure.ratio <= self.value
        if self.kind == "speedup_min":
            return figure.ratio > 0 and 1 / figure.ratio >= self.value
        if self.kind == "seconds_max":
            return figure.project_median <= self.value
        return None


NO_TARGET = Target("none")


@dataclass
class Figure:
    """One figure: the project's times and its baseline's, with what they were measured on."""

    figure: str  # the family (ingest, build_vs_dbt, ...): the plot groups by it
    name: str  # what is measured, readable
    baseline_name: str
    project_seconds: list[float]
    baseline_seconds: list[float]
    target: Target = NO_TARGET
    scale: float | None = None
    days: int | None = None
    #: Bytes of input (the generated extracts) the figure ran on: the x axis of the plot.
    data_bytes: int | None = None
    #: What a throughput counts (rows, events, bytes) and how many of them each side processed.
    unit: str = "rows"
    items: int = 0
    baseline_items: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: What ``project_seconds``/``baseline_seconds`` hold: seconds, or MiB for a memory figure.
    quantity: Literal["seconds", "MiB"] = "seconds"

    @property
    def project_median(self) -> float:
        return statistics.median(self.project_seconds)

    @property
    def baseline_median(self) -> float:
        return statistics.median(self.baseline_seconds) if self.baseline_seconds else float("nan")

    @property
    def ratio(self) -> float:
        """project / baseline, per item when the two sides processed different numbers of items."""
        if not self.baseline_seconds or self.baseline_median <= 0:
            return float("nan")
        project, baseline = self.project_median, self.baseline_median
        if self.baseline_items and self.items and self.baseline_items != self.items:
            project, baseline = project / self.items, baseline / self.baseline_items
        return project / baseline

    @property
    def throughput(self) -> float | None:
        if self.quantity != "seconds" or not self.items or self.project_median <= 0:
            return None
        return self.items / self.project_median

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["target"] = {
            "kind": self.target.kind,
            "value": self.target.value,
            "text": self.target.describe(),
        }
        data |= {
            "project_median": self.project_median,
            "baseline_median": None if not self.baseline_seconds else self.baseline_median,
            "ratio": None if not self.baseline_seconds else self.ratio,
            "throughput_per_second": self.throughput,
            "met": self.target.met(self),
        }
        return data


def timed(func: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = func()
    return result, time.perf_counter() - start


def alternate(
    project: Callable[[], object],
    baseline: Callable[[], object] | None,
    repeat: int,
    before: Callable[[], object] | None = None,
) -> tuple[list[float], list[float]]:
    """Run ``project`` and ``baseline`` ``repeat`` times each, alternating; their times.

    ``before`` (not timed) runs before every timed call, e.g. to reset a target folder. The order
    flips every repetition (P B, B P, P B, ...) so that neither side always runs on a warm cache.
    """
    p_times: list[float] = []
    b_times: list[float] = []
    for i in range(repeat):
        order: list[tuple[Callable[[], object], list[float]]] = [(project, p_times)]
        if baseline is not None:
            order.append((baseline, b_times))
            if i % 2:
                order.reverse()
        for func, times in order:
            if before is not None:
                before()
            _, seconds = timed(func)
            times.append(seconds)
    return p_times, b_times


def rotate(
    funcs: Sequence[Callable[[], object]],
    repeat: int,
    befores: Sequence[Callable[[], object] | None] | None = None,
) -> list[list[float]]:
    """Like :func:`alternate` for several sides: each repetition runs all of them, starting one later.

    ``befores[j]`` (not timed) runs before every timed call of ``funcs[j]``.
    """
    times: list[list[float]] = [[] for _ in funcs]
    for i in range(repeat):
        for k in range(len(funcs)):
            j = (i + k) % len(funcs)
            before = befores[j] if befores else None
            if before is not None:
                before()
            _, seconds = timed(funcs[j])
            times[j].append(seconds)
    return times


def log(message: str) -> None:
    """Progress on stderr (stdout is the table)."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --- output ----------------------------------------------------------------------------------------


def _fmt_value(figure: Figure, value: float) -> str:
    if value != value:  # nan
        return "-"
    if figure.quantity == "MiB":
        return f"{value:,.0f} MiB"
    return f"{value:.3f} s" if value < 100 else f"{value:.0f} s"


def _fmt_ratio(figure: Figure) -> str:
    ratio = figure.ratio
    if ratio != ratio:
        return "-"
    if figure.target.kind == "speedup_min":
        return f"{1 / ratio:.1f}x faster" if ratio > 0 else "-"
    return f"{ratio:.2f}x"


def _fmt_size(data_bytes: int | None) -> str:
    if not data_bytes:
        return ""
    return f"{data_bytes / 1e6:.1f} MB" if data_bytes >= 1e6 else f"{data_bytes / 1e3:.0f} kB"


def _fmt_throughput(figure: Figure) -> str:
    rate = figure.throughput
    if rate is None:
        return ""
    if figure.unit == "bytes":
        return f"{rate / 1e6:,.1f} MB/s"
    return f"{rate:,.0f} {figure.unit}/s" if rate >= 10 else f"{rate:.2f} {figure.unit}/s"


def table(figures: Sequence[Figure]) -> str:
    """The readable table: figure, data, project median, baseline median, ratio, target, met."""
    headers = ["figure", "data", "project", "baseline", "ratio", "throughput", "target", "met"]
    rows = []
    for f in figures:
        met = f.target.met(f)
        data = ", ".join(
            x for x in (f"x{f.scale:g}" if f.scale is not None else "", _fmt_size(f.data_bytes)) if x
        )
        rows.append(
            [
                f"{f.name} (vs {f.baseline_name})" if f.baseline_name else f.name,
                data,
                _fmt_value(f, f.project_median),
                _fmt_value(f, f.baseline_median) if f.baseline_seconds else "-",
                _fmt_ratio(f),
                _fmt_throughput(f),
                f.target.describe(),
                "-" if met is None else ("met" if met else "NOT MET"),
            ]
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    right = {2, 3, 4, 5}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


def markdown_table(figures: Sequence[Figure]) -> str:
    """The same table in Markdown (for the README)."""
    lines = [
        "| figure | data | project | baseline | ratio | throughput | target | met |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for f in figures:
        met = f.target.met(f)
        data = ", ".join(
            x for x in (f"x{f.scale:g}" if f.scale is not None else "", _fmt_size(f.data_bytes)) if x
        )
        name = f"{f.name} (vs {f.baseline_name})" if f.baseline_name else f.name
        cells = [
            name,
            data,
            _fmt_value(f, f.project_median),
            _fmt_value(f, f.baseline_median) if f.baseline_seconds else "-",
            _fmt_ratio(f),
            _fmt_throughput(f),
            f.target.describe().replace("<=", "≤").replace(">=", "≥"),
            "-" if met is None else ("met" if met else "**not met**"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_json(path: Path, figures: Sequence[Figure], settings: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": _cpus()},
        "settings": settings,
        "figures": [f.as_json() for f in figures],
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=2, default=str) + "\n")
    tmp.replace(path)
    return path


def read_json(path: Path) -> list[Figure]:
    """The figures of a results file written by :func:`write_json`."""
    document = json.loads(path.read_text())
    names = {f.name for f in fields(Figure)}
    figures = []
    for item in document["figures"]:
        kwargs = {k: v for k, v in item.items() if k in names}
        kwargs["target"] = Target(item["target"]["kind"], item["target"]["value"])
        figures.append(Figure(**kwargs))
    return figures


def _cpus() -> int | None:
    import os

    return os.cpu_count()


def plot(path: Path, figures: Sequence[Figure]) -> Path | None:
    """Time against data size, one panel per figure family, project and baseline lines.

    Returns None (and says why on stderr) when matplotlib is not installed.
    """
    try:
        import matplotlib  # type: ignore[import-not-found, unused-ignore]

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        log("plot skipped: matplotlib is not installed (pip install 'matplotlib==3.11.*')")
        return None
    families: dict[str, list[Figure]] = {}
    for f in figures:
        if f.data_bytes:
            families.setdefault(f.figure, []).append(f)
    families = {k: v for k, v in families.items() if v}
    if not families:
        log("plot skipped: no figure was measured at a data size")
        return None
    cols = min(3, len(families))
    rows = (len(families) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.8 * rows), squeeze=False)
    for ax, group in zip(axes.flat, families.values(), strict=False):
        group = sorted(group, key=lambda f: f.data_bytes or 0)
        name = (
            f"{group[-1].name}\nvs {group[-1].baseline_name}" if group[-1].baseline_name else group[-1].name
        )
        x = [(f.data_bytes or 0) / 1e6 for f in group]
        ax.plot(x, [f.project_median for f in group], "o-", label="project")
        if any(f.baseline_seconds for f in group):
            ax.plot(x, [f.baseline_median for f in group], "s--", label=group[0].baseline_name or "baseline")
        ax.set_title(name, fontsize=8)
        if len(x) > 1 and max(x) > 3 * min(x):
            from matplotlib.ticker import NullFormatter, ScalarFormatter  # type: ignore[import-not-found, unused-ignore]

            ax.set_xscale("log")
            logs = [ax.xaxis]
            ys = [v for f in group for v in (f.project_median, f.baseline_median) if v]
            if ys and max(ys) > 10 * min(ys):  # a log scale shows no label within one decade
                ax.set_yscale("log")
                logs.append(ax.yaxis)
            else:
                ax.set_ylim(bottom=0)
            for axis in logs:
                axis.set_major_formatter(ScalarFormatter())
                axis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("generated extracts (MB)")
        ax.set_ylabel("median peak memory (MiB)" if group[0].quantity == "MiB" else "median time (s)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(families) :]:
        ax.set_visible(False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
