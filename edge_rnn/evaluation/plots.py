"""Plots written as PNG (matplotlib, an optional extra: pip install 'edge-rnn[plot]')."""

from __future__ import annotations

from pathlib import Path

from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.fileio import atomic_path


def check_plot(path: Path, option: str = "--plot"):
    """Refuse a bad PNG path (given with `option`) before any work is done; return pyplot."""
    if Path(path).suffix.lower() != ".png":
        raise UserError(f"{option} must name a .png file, got {path}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError(f"drawing {Path(path).name} needs matplotlib: pip install 'edge-rnn[plot]'") from None
    return plt


def plot_det(curve: list[dict], path: Path, title: str = "") -> None:
    """False-reject rate against false accepts per hour, one point per threshold."""
    plt = check_plot(path)
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    x = [max(p["false_accepts_per_hour"], 1e-2) for p in curve]
    y = [p["false_reject_rate"] * 100 for p in curve]
    ax.plot(x, y, marker="o")
    for p, xi, yi in zip(curve, x, y):
        ax.annotate(f"{p['threshold']:.2f}", (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("false accepts per hour")
    ax.set_ylabel("false rejects (%)")
    ax.set_title(title or "DET curve")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def plot_snr(rows: list[dict], path: Path, title: str = "") -> None:
    """Keywords detected (%) against SNR, one line per noise kind; quiet and reverb as flat lines."""
    plt = check_plot(path)
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    kinds = list(dict.fromkeys(r["kind"] for r in rows if r["snr_db"] is not None))
    for kind in kinds:
        points = sorted((r["snr_db"], 100 * r["detection_rate"]) for r in rows if r["kind"] == kind)
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=kind)
    for r in rows:
        if r["snr_db"] is None:
            ax.axhline(100 * r["detection_rate"], linestyle="--" if r["kind"] is None else ":", color="grey")
            ax.annotate(r["condition"], (0.01, 100 * r["detection_rate"]), xycoords=("axes fraction", "data"),
                        fontsize=8, xytext=(0, 3), textcoords="offset points")
    ax.set_xlabel("SNR (dB, speech power over noise power)")
    ax.set_ylabel("keywords detected (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title or "detection in noise")
    ax.grid(True, alpha=0.3)
    if kinds:
        ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
