"""The chart of ``make bench-peers``: one bar group per figure, one bar per engine.

Usage: ``python chart.py peers.json peers.png``, with the peers' Python (it has matplotlib;
kontinue's .venv does not). Each figure has its own panel and scale (their units differ); an
engine that was missing or failed has no bar, and the panel says so.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {
    "kontinue": "#2b6cb0",
    "temporal-local-activity": "#9f7aea",
    "temporal-activity": "#6b46c1",
    "dbos-postgres": "#38a169",
    "dbos-sqlite": "#9ae6b4",
    "restate": "#dd6b20",
}


def draw(document: dict[str, Any], png: Path) -> None:
    """Write the chart of a peers.json document to ``png``."""
    figures = document["figures"]
    engines: dict[str, Any] = document["engines"]
    names = list(engines)
    columns = 4
    rows = math.ceil(len(figures) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for index, figure in enumerate(figures):
        ax = axes[index // columns][index % columns]
        values = [engines[n].get("figures", {}).get(figure["key"]) for n in names]
        heights = [v if v is not None else 0.0 for v in values]
        bars = ax.bar(range(len(names)), heights, color=[COLORS.get(n, "#718096") for n in names])
        for bar, value, name in zip(bars, values, names, strict=True):
            status = engines[name].get("status")
            if value is None:
                label = status if status != "ok" else "n/a"
            else:
                label = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
            ax.annotate(
                label,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
                color="black" if value is not None else "#c53030",
                rotation=90 if value is None else 0,
            )
        better = "lower is better" if figure["better"] == "lower" else "higher is better"
        ax.set_title(f"{figure['label']}\n({figure['unit']}, {better})", fontsize=9)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=45, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        top = max(heights) if any(heights) else 1.0
        ax.set_ylim(0, top * 1.25)
    for index in range(len(figures), rows * columns):
        axes[index // columns][index % columns].axis("off")
    run = document["run"]
    load = run["machine"]["load_average_before"][0], run["machine"]["load_average_after"][0]
    fig.suptitle(
        f"kontinue and its peers on one machine ({run['machine']['cores']} cores, load "
        f"{load[0]:.1f}/{load[1]:.1f}), {'QUICK sizes' if run['quick'] else 'full sizes'}, "
        f"{run['rounds']} interleaved rounds, {run['started']}",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(png, dpi=110)


def main() -> int:
    """Read the JSON named first, write the PNG named second."""
    document = json.loads(Path(sys.argv[1]).read_text())
    draw(document, Path(sys.argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
