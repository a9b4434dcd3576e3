"""Evaluation metrics against ground truth."""

from ._embedding import CircleRecovery, circle_recovery, curve_order

__all__ = ["CircleRecovery", "circle_recovery", "curve_order"]
