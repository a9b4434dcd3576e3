"""Small statistics shared by the library and its evaluation."""

from __future__ import annotations

import numpy as np

__all__ = ["adjusted_r2"]


def adjusted_r2(r2, n: int, p: int):
    r"""Adjusted coefficient of determination of a least-squares fit on ``p`` functions.

    :math:`\bar R^2 = 1 - (1 - R^2)\,\frac{n - 1}{n - p - 1}`: the chance fit of ``p``
    non-constant functions to ``n`` centred values (about ``p / n`` of pure noise's variance)
    removed. ``r2``: float or array; returns the same shape (not clipped: it is below 0 where
    the fit is no better than chance).

    Raises
    ------
    ValueError
        If ``n <= p + 1``: the ``p`` functions can fit any ``n`` values.
    """
    if n - p - 1 <= 0:
        raise ValueError(f"adjusted: {p} basis functions need more than {p + 1} items, got "
                         f"{n}; use fewer basis functions (n_modes / n_joint_modes), or "
                         "adjusted=False")
    with np.errstate(invalid="ignore"):
        return 1.0 - (1.0 - np.asarray(r2, dtype=np.float64)) * (n - 1) / (n - p - 1)
