"""Procedural data sets with ground truth (nothing is downloaded)."""

from ._particles import make_particles
from ._product import (
    BOX_SIDES,
    RECTANGLE_SIDES,
    TORUS_RADII,
    make_box,
    make_product_cryoem,
    make_rectangle,
    make_torus,
    pca_standardize,
)
from ._rotor import (
    DEFAULT_ROTOR_SHAPE,
    make_clustered_circle,
    make_rotor,
    rotate_map,
    rotor_density,
    sample_rotor_angles,
)

__all__ = [
    "BOX_SIDES",
    "DEFAULT_ROTOR_SHAPE",
    "RECTANGLE_SIDES",
    "TORUS_RADII",
    "make_box",
    "make_clustered_circle",
    "make_particles",
    "make_product_cryoem",
    "make_rectangle",
    "make_rotor",
    "make_torus",
    "pca_standardize",
    "rotate_map",
    "rotor_density",
    "sample_rotor_angles",
]
