"""Reproductions of the papers' figures and tables (``conformap reproduce PAPER``)."""
