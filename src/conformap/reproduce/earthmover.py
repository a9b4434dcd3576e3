"""Earthmover paper (Zelesko et al. 2020): Figs. 3, 4, 5 and recovery tables.

Placeholder being written in this session; see the issue tracker.
"""


def register_options(p) -> None:
    p.add_argument("--out", default="docs/earthmover")


def run(args) -> int:
    raise NotImplementedError("reproduce earthmover is not implemented yet")
