"""Argument helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
from pathlib import Path


def bandwidth_arg(text: str):
    """``auto``/rule name, or a positive float."""
    from ..bandwidth import BANDWIDTH_RULES

    if text in BANDWIDTH_RULES:
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a number nor one of {', '.join(BANDWIDTH_RULES)}"
        ) from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the bandwidth must be > 0")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be >= 1")
    return value


def nonneg_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be >= 0")
    return value


def output_stem(out: str) -> Path:
    """``OUT`` or ``OUT.npz`` -> ``OUT`` (outputs are OUT.npz, OUT.csv, OUT.png)."""
    p = Path(out)
    return p.with_suffix("") if p.suffix.lower() == ".npz" else p


def add_embedding_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("embedding")
    g.add_argument(
        "--metric",
        choices=["wemd", "euclidean", "emd"],
        default="wemd",
        help="distance between items (default: wemd)",
    )
    g.add_argument("--n-components", type=positive_int, default=2, help="coordinates (default 2)")
    g.add_argument("--alpha", type=float, default=1.0, help="Coifman-Lafon alpha (default 1)")
    g.add_argument("--t", type=nonneg_float, default=0.0, help="diffusion time (default 0)")
    g.add_argument(
        "--bandwidth",
        type=bandwidth_arg,
        default="auto",
        help="kernel sigma, or a rule: auto, kernel-sum, mst, median, knn (default auto)",
    )
    g.add_argument(
        "--method",
        choices=["auto", "dense", "knn"],
        default="auto",
        help="dense all-pairs, or sparse k-nearest-neighbour graph (default auto)",
    )
    g.add_argument(
        "--n-neighbors", type=positive_int, default=None, help="neighbours for --method knn"
    )
    g.add_argument("--wavelet", default="coif3", help="WEMD wavelet (default coif3)")
    g.add_argument(
        "--level",
        type=positive_int,
        default=None,
        help="WEMD levels (default floor(log2(min(shape))))",
    )
    g.add_argument(
        "--negative",
        choices=["keep", "clip", "error"],
        default=None,
        help="negative voxels: keep (signed WEMD, default, warns), clip, error",
    )
    g.add_argument("--n-jobs", type=int, default=None, help="threads (default: all cores)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
