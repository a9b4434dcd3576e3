"""Procedural data sets with ground truth (nothing is downloaded)."""

from ._rotor import (
    DEFAULT_ROTOR_SHAPE,
    make_rotor,
    rotate_map,
    rotor_density,
    sample_rotor_angles,
)

__all__ = [
    "DEFAULT_ROTOR_SHAPE",
    "make_rotor",
    "rotate_map",
    "rotor_density",
    "sample_rotor_angles",
]
