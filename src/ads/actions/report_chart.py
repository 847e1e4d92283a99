"""The memory chart: every run's memory over time against the limit, as inline SVG.

Drawn by matplotlib's SVG backend (no display, no raster backend), from the report model's
runs: ticks and gridlines in MiB and seconds, the limit as a labelled dashed line, each OOM
kill a marker where it happened (the run's line ends there), and a legend. matplotlib is
imported here, inside the function, so only rendering a report pays for it.

The SVG keeps its text as text (``svg.fonttype = none``), so the tick labels can be read and
searched in the page, and it carries ids a test (or a person with the inspector) can find:
``memory-chart``, ``oom-kill-<n>`` for the markers, ``limit-line``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

from ..units import format_quantity
from .report_model import RunView

__all__ = ["memory_chart_svg"]

MiB = 1024 * 1024
BASE_HEIGHT = 3.4  # inches: the plot, its axis labels and one legend row
LEGEND_COLUMNS = 4
ROW_INCHES = 0.2  # the height a legend row adds to the figure
ANNOTATED_KILLS = 3  # kills labelled "OOMKilled at …"; the rest are markers only


def memory_chart_svg(runs: Sequence[RunView], limit: int | None) -> str:
    """One SVG element (no XML prologue) to put inline in an HTML page."""
    import matplotlib

    matplotlib.use("svg", force=False)
    from matplotlib.figure import Figure

    params: Any = {
        "svg.fonttype": "none",  # text stays <text>, readable and searchable
        "svg.hashsalt": "ads-report",  # the same ids for the same chart
        "font.size": 9,
        "font.family": "sans-serif",
    }
    # The legend sits above the plot, LEGEND_COLUMNS to a row: a bisection adds a run per
    # commit tried, so the figure grows a little for each extra row rather than squeezing it.
    entries = len(runs) + any(run.kills for run in runs) + len(_limits(runs, limit))
    rows = max(1, -(-entries // LEGEND_COLUMNS))
    height = BASE_HEIGHT + ROW_INCHES * (rows - 1)
    with matplotlib.rc_context(params):
        figure = Figure(figsize=(6.4, height), dpi=100)
        # Fixed margins rather than a layout engine: constrained layout draws the figure twice,
        # doubling the time a report takes; these fit the labels and the legend rows above.
        top_margin = (0.16 * BASE_HEIGHT + ROW_INCHES * (rows - 1)) / height
        figure.subplots_adjust(
            left=0.1, right=0.98, bottom=0.14 * BASE_HEIGHT / height, top=1 - top_margin
        )
        axes = figure.add_subplot()
        longest = 0.0
        kill_number = 0
        annotated = 0
        for run in runs:
            xs = [t for t, _ in run.points]
            ys = [b / MiB for _, b in run.points]
            longest = max([longest, *xs])
            axes.plot(xs, ys, color=run.colour, linewidth=1.8, label=run.label, gid=_gid(run.label))
            for t, b in run.kills:
                kill_number += 1
                axes.plot([t], [b / MiB], marker="X", markersize=10, color=run.colour,
                          markeredgecolor="black", linestyle="none",
                          gid=f"oom-kill-{kill_number}",
                          label="OOM kill" if kill_number == 1 else "_nolegend_")  # fmt: skip
                if annotated < ANNOTATED_KILLS:  # more would pile up: the markers say enough
                    annotated += 1
                    axes.annotate(f"OOMKilled at {t:.1f} s", (t, b / MiB), xytext=(-8, -14),
                                  textcoords="offset points", ha="right", fontsize=8,
                                  color=run.colour)  # fmt: skip
        top = max([b / MiB for run in runs for _, b in run.points] + [1.0])
        for index, value in enumerate(_limits(runs, limit)):
            gid = "limit-line" if index == 0 else f"limit-line-{index + 1}"
            colour = "#b00020" if index == 0 else "#7a4b00"
            axes.axhline(value / MiB, color=colour, linestyle="--", linewidth=1.2,
                         gid=gid, label=f"limit {format_quantity(value)}")  # fmt: skip
            axes.annotate(f"limit {format_quantity(value)}", (0, value / MiB), xytext=(4, 4),
                          textcoords="offset points", color=colour, fontsize=8)  # fmt: skip
            top = max(top, value / MiB)
        axes.set_ylim(0, top * 1.15)
        axes.set_xlim(0, max(longest, 0.1) * 1.02)
        axes.set_xlabel("seconds since the run started")
        axes.set_ylabel("memory (MiB)")
        axes.grid(True, color="#dddddd", linewidth=0.6)
        axes.set_axisbelow(True)
        if runs or limit:  # above the plot, in rows: the plot keeps the page's whole width
            axes.legend(loc="lower left", bbox_to_anchor=(0.0, 1.01), ncol=LEGEND_COLUMNS,
                        fontsize=8, frameon=False, borderaxespad=0.0)  # fmt: skip
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return _inline(buffer.getvalue())


def _limits(runs: Sequence[RunView], limit: int | None) -> list[int]:
    """One line per limit the runs were under (a limit fix runs at the old and the new one)."""
    under = [run.figures.limit for run in runs if run.figures.limit]
    return list(dict.fromkeys([*([limit] if limit else []), *under]))


def _gid(label: str) -> str:
    return "run-" + re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def _inline(svg: str) -> str:
    """The <svg> element alone, scaled to its container, labelled for screen readers."""
    start = svg.index("<svg")
    element = svg[start:]
    element = re.sub(r'\swidth="[^"]*"', ' width="100%"', element, count=1)
    element = re.sub(r'\sheight="[^"]*"', "", element, count=1)
    return element.replace(
        "<svg", '<svg id="memory-chart" role="img" aria-label="memory over time"', 1
    )
