"""Write particle sets back with embedding coordinates: STAR and cryoSPARC ``.cs`` files.

The output keeps every block, row, column and value of the input in its order (STAR values are
carried as the text of the input file, so ``1.2e-05`` stays ``1.2e-05``), adds one column per
embedding coordinate (``conformapPsi1`` ... in STAR, ``conformap/psi1`` ... in ``.cs``), and
optionally keeps only a selection of rows: a ``--where`` condition on the coordinates or a list
of rows chosen elsewhere (the report's lasso). Embedding rows are matched to table rows by item
name (``rlnImageName``; RELION-style names for ``.cs``, see :mod:`conformap.particles`), never
by position.
"""

from __future__ import annotations

import ast
import operator
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

__all__ = [
    "export_cs",
    "export_star",
    "match_rows",
    "parse_where",
    "read_selection",
]

_COMPARE = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}
_PSI = re.compile(r"psi([1-9][0-9]*)\Z")


def _error(msg: str):
    from .io import InputError

    return InputError(msg)


def parse_where(expr: str, n_components: int):
    """Compile a row condition such as ``"psi1 > 0 and (psi2 < 0.3 or not psi3 >= 1)"``.

    The grammar is parsed with :mod:`ast` and evaluated node by node (nothing is ``eval``-ed):
    names ``psi1`` ... ``psiK`` (1-based embedding coordinates), numbers (with a sign),
    comparisons ``< <= > >= == !=`` (chains such as ``0 < psi1 < 0.3`` too), ``and``, ``or``,
    ``not`` and parentheses.

    Parameters
    ----------
    expr : str
    n_components : int
        K: the coordinates the embedding has.

    Returns
    -------
    callable
        ``f(embedding) -> bool mask`` of shape (n,) for an (n, K) embedding.

    Raises
    ------
    InputError
        A syntax error, or anything outside the grammar (naming it).
    """
    where = f"--where {expr!r}"
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        raise _error(f"{where}: not a condition ({exc.msg}); write e.g. "
                     "\"psi1 > 0 and psi2 < 0.3\"") from None

    def number(node):
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return float(node.value)
        if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd)
                and isinstance(node.operand, ast.Constant)
                and type(node.operand.value) in (int, float)):
            v = float(node.operand.value)
            return -v if isinstance(node.op, ast.USub) else v
        return None

    def value(node):
        num = number(node)
        if num is not None:
            return lambda emb: num
        if isinstance(node, ast.Name):
            m = _PSI.match(node.id)
            if not m:
                raise _error(f"{where}: unknown name {node.id!r}; use psi1 ... psi{n_components}")
            k = int(m.group(1))
            if k > n_components:
                raise _error(f"{where}: psi{k} does not exist; the embedding has "
                             f"{n_components} coordinates (psi1 ... psi{n_components})")
            return lambda emb: emb[:, k - 1]
        raise _error(f"{where}: {ast.unparse(node)!r} is not allowed; compare psiN with "
                     "numbers (no arithmetic or function calls)")

    def condition(node):
        if isinstance(node, ast.BoolOp):
            parts = [condition(v) for v in node.values]
            combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or

            def boolop(emb):
                out = parts[0](emb)
                for p in parts[1:]:
                    out = combine(out, p(emb))
                return out
            return boolop
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = condition(node.operand)
            return lambda emb: np.logical_not(inner(emb))
        if isinstance(node, ast.Compare):
            terms = [value(node.left)] + [value(c) for c in node.comparators]
            ops = []
            for op in node.ops:
                if type(op) not in _COMPARE:
                    raise _error(f"{where}: operator {type(op).__name__} is not allowed; use "
                                 "< <= > >= == !=")
                ops.append(_COMPARE[type(op)])

            def compare(emb):
                vals = [t(emb) for t in terms]
                out = np.ones(emb.shape[0], dtype=bool)
                for op, a, b in zip(ops, vals[:-1], vals[1:], strict=True):
                    out &= np.broadcast_to(op(a, b), out.shape)
                return out
            return compare
        raise _error(f"{where}: {ast.unparse(node)!r} is not a comparison; write e.g. "
                     "\"psi1 > 0 and psi2 < 0.3\"")

    fn = condition(tree.body)

    def mask(embedding):
        emb = np.asarray(embedding, dtype=float)
        return np.asarray(fn(emb), dtype=bool)
    return mask


def read_selection(path, names) -> np.ndarray:
    """Rows chosen elsewhere: a text file with one 0-based row index or one item name a line.

    Blank lines and lines starting with ``#`` are skipped (the report's downloads start with a
    ``#`` line saying what the numbers are). A line that is an integer is a row index into the
    embedding, anything else an item name.

    Returns
    -------
    ndarray of int
        Sorted unique embedding row indices.
    """
    path = Path(path)
    if not path.is_file():
        raise _error(f"--indices {path}: no such file")
    lines = [ln.strip() for ln in path.read_text().splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise _error(f"--indices {path}: the file selects no rows (no index or name lines)")
    n = len(names)
    lookup: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(names):
        lookup[str(name)].append(i)
    rows = []
    for lineno, text in enumerate(lines, 1):
        if re.fullmatch(r"[+-]?\d+", text) and text not in lookup:
            i = int(text)
            if not 0 <= i < n:
                raise _error(f"--indices {path}: index {i} (entry {lineno}) is outside the "
                             f"embedding's rows 0 ... {n - 1}")
            rows.append(i)
        elif text in lookup:
            rows.extend(lookup[text])
        else:
            raise _error(f"--indices {path}: entry {lineno} {text!r} is neither a row index nor "
                         "an item name of the embedding")
    return np.unique(np.asarray(rows, dtype=np.int64))


def match_rows(table_names, emb_names, source) -> np.ndarray:
    """For each table row, the embedding row with the same item name.

    Names that occur several times (symmetry-expanded particle sets) are matched in order of
    occurrence: the k-th table row named X gets the k-th embedding row named X.

    Embedding rows that no table row claims are allowed: the table may be a subset of the
    embedded particles (e.g. after a RELION selection job).

    Raises
    ------
    InputError
        A table row with no embedding row (naming the first few): the embedding was not
        computed from this particle set.
    """
    pool: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(emb_names):
        pool[str(name)].append(i)
    cursor: dict[str, int] = defaultdict(int)
    out = np.empty(len(table_names), dtype=np.int64)
    missing = []
    for row, name in enumerate(table_names):
        name = str(name)
        k = cursor[name]
        if k < len(pool.get(name, ())):
            out[row] = pool[name][k]
            cursor[name] = k + 1
        else:
            missing.append((row, name))
    if missing:
        first = ", ".join(f"row {r + 1} {n!r}" for r, n in missing[:3])
        raise _error(
            f"{source}: {len(missing)} of {len(table_names)} particle rows have no embedding row "
            f"with their name ({first}); the embedding must be computed from this particle set "
            "(conformap embed on the same file)"
        )
    return out


def _keep(n_rows: int, emb_rows, embedding, where, indices) -> np.ndarray:
    """Table rows to keep (bool mask) given the matched embedding rows."""
    keep = np.ones(n_rows, dtype=bool)
    if where is not None:
        keep &= where(embedding)[emb_rows]
    if indices is not None:
        chosen = np.zeros(len(embedding), dtype=bool)
        chosen[indices] = True
        keep &= chosen[emb_rows]
    return keep


def _psi_text(values) -> list[str]:
    return [f"{v:.8g}" for v in values]


def export_star(embedding, names, star_in, out, *, where=None, indices=None,
                overwrite: bool = False) -> tuple[Path, int, int]:
    """Write ``star_in`` with ``conformapPsi1..K`` columns added, optionally a subset of rows.

    Parameters
    ----------
    embedding : ndarray, shape (n, K)
    names : sequence of str, length n
        Item names of the embedding rows (``rlnImageName``).
    star_in, out : path
    where : callable, optional
        From :func:`parse_where`.
    indices : ndarray of int, optional
        Embedding rows to keep (:func:`read_selection`).
    overwrite : bool
        Replace an existing ``out``.

    Returns
    -------
    (Path, int, int)
        The output, rows kept, rows in the input.
    """
    import starfile

    from .io import atomic_path
    from .particles import particle_block_name, read_star_blocks

    out = _check_out(out, star_in, overwrite)
    blocks = read_star_blocks(star_in, as_strings=True)
    block = particle_block_name(blocks, star_in)
    df = blocks[block]
    emb = np.asarray(embedding, dtype=float)
    rows = match_rows(df["rlnImageName"].tolist(), names, star_in)
    keep = _keep(len(df), rows, emb, where, indices)
    clash = [c for c in df.columns if c.startswith("conformapPsi")]
    df = df.drop(columns=clash)  # a re-export replaces the coordinates of an earlier one
    for k in range(emb.shape[1]):
        df[f"conformapPsi{k + 1}"] = _psi_text(emb[rows, k])
    blocks[block] = df[keep].reset_index(drop=True)
    with atomic_path(out) as tmp:
        starfile.write(blocks, tmp)
    return out, int(keep.sum()), len(keep)


def export_cs(embedding, names, cs_in, out, *, where=None, indices=None,
              overwrite: bool = False) -> tuple[Path, int, int]:
    """Write the cryoSPARC table ``cs_in`` with ``conformap/psi1..K`` fields (float32) added.

    Same parameters and return value as :func:`export_star`; every original field and value is
    kept byte for byte (the structured array is copied, not re-parsed).
    """
    from numpy.lib import recfunctions as rfn

    from .io import atomic_path
    from .particles import cs_names, read_cs

    out = _check_out(out, cs_in, overwrite)
    arr = read_cs(cs_in)
    emb = np.asarray(embedding, dtype=float)
    rows = match_rows(cs_names(arr), names, cs_in)
    keep = _keep(len(arr), rows, emb, where, indices)
    old = [f for f in arr.dtype.names if f.startswith("conformap/psi")]
    if old:
        arr = rfn.drop_fields(arr, old, usemask=False)
    new_dtype = np.dtype(arr.dtype.descr + [(f"conformap/psi{k + 1}", "<f4")
                                           for k in range(emb.shape[1])])
    res = np.empty(len(arr), dtype=new_dtype)
    for f in arr.dtype.names:
        res[f] = arr[f]
    for k in range(emb.shape[1]):
        res[f"conformap/psi{k + 1}"] = emb[rows, k]
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        np.save(fh, res[keep], allow_pickle=False)
    return out, int(keep.sum()), len(keep)


def _check_out(out, source, overwrite: bool) -> Path:
    """Refuse ``out`` before reading anything: wrong suffix, the input itself, or unusable.

    Existence, missing parent and write access follow the one output rule
    (:func:`conformap.io.check_output_files`).
    """
    from .io import check_output_files

    out, source = Path(out), Path(source)
    if out.suffix.lower() != source.suffix.lower():
        raise _error(f"{out}: must end in {source.suffix} like the input {source.name}")
    if out.exists() and out.resolve() == source.resolve():
        raise _error(f"{out}: is the input file; write to another name")
    check_output_files([out], overwrite=overwrite)
    return out
