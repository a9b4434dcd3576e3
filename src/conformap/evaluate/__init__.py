"""Evaluation metrics against ground truth."""

from ._embedding import CircleRecovery, circle_recovery, curve_order
from ._factors import FactorAssignment, factor_assignment, factor_r2

__all__ = [
    "CircleRecovery",
    "FactorAssignment",
    "circle_recovery",
    "curve_order",
    "factor_assignment",
    "factor_r2",
]
