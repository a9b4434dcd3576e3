"""Evaluation metrics against ground truth."""

from ._embedding import CircleRecovery, circle_recovery, curve_order, unit_circle_coordinates
from ._factors import FactorAssignment, factor_assignment, factor_r2

__all__ = [
    "CircleRecovery",
    "FactorAssignment",
    "circle_recovery",
    "curve_order",
    "factor_assignment",
    "factor_r2",
    "unit_circle_coordinates",
]
