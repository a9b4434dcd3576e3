"""Argument helpers shared by the sub-commands, and the one output rule every command follows.

Output rule (every command, including any added later, calls these helpers):

* ``--out`` is checked before any computation: its directory must exist and be writable (a
  command's own output *directory*, e.g. ``simulate --out maps/``, may be missing and is created,
  but its parent must exist; a missing parent such as ``/nonexistent/emb`` is an error, never
  created silently);
* an existing output file (or a non-empty output directory; or, for a command that adds its
  files beside others such as ``trajectory``, one of the files it would write) is refused
  unless ``--overwrite``;
* a dotted stem keeps its name: ``--out run-0.1`` writes ``run-0.1.npz``, ``run-0.1.csv``, ...;
* ``--quiet`` turns off progress bars and progress messages.

Errors are :class:`conformap.io.OutputError` (a ValueError: exit status 2) naming the path as
the user gave it.
"""

from __future__ import annotations

import argparse
from pathlib import Path


class Parser(argparse.ArgumentParser):
    """The parser of ``conformap`` and of every sub-command: options are never abbreviated.

    argparse's default takes any unique prefix of a long option, so ``simulate-particles
    --n 600`` meant ``--noise 600`` (600 times the image maximum) instead of 600 particles, and
    adding an option could change what an existing command line means. A prefix is an error.
    """

    def __init__(self, *args, allow_abbrev: bool = False, **kwargs):
        super().__init__(*args, allow_abbrev=allow_abbrev, **kwargs)


def format_warning(message, category, *args, **kwargs) -> str:
    """One ``conformap: warning:`` line; library advice rephrased with the command's flags."""
    from .._validation import NegativeDensityWarning

    if isinstance(message, NegativeDensityWarning) and message.n_items:
        text = (f"{message.n_negative} of {message.n_items} items have negative voxels "
                f"(negative mass up to {100 * message.fraction:.1f}% of absolute mass); they are "
                "kept and the WEMD is computed for the signed measures. --negative keep "
                "silences this, --negative clip zeroes them, --negative error refuses them")
    else:
        text = str(message)
    return f"conformap: warning: {text}\n"


#: Python API parameter -> the command line's flag (for messages the library returns as data).
FLAGS = {"method": "--method", "memory_limit": "--max-memory", "cache_dir": "--cache DIR",
         "negative": "--negative", "level": "--level", "n_neighbors": "--n-neighbors"}


def flag_spelling(option: str, value: str | None) -> str:
    """How the command line spells an option: ``--method knn``, ``--max-memory``."""
    flag = FLAGS.get(option, "--" + option.replace("_", "-"))
    return flag if value is None else f"{flag} {value}"


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


def positive_float(text: str) -> float:
    """A finite number > 0 (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number > 0")
    return value


def number_arg(kind=float, *, words: tuple[str, ...] = (), low=None, strict: bool = False,
               below=None, what: str = "the value"):
    """An argparse type: one of ``words``, or a ``kind`` (int/float) number >= ``low``
    (> ``low`` when ``strict``) and < ``below``; the error names the allowed forms."""
    noun = "an integer" if kind is int else "a number"
    forms = " or ".join([noun, *(repr(w) for w in words)])
    bound = []
    if low is not None:
        bound.append(f"{'>' if strict else '>='} {low:g}")
    if below is not None:
        bound.append(f"< {below:g}")

    def parse(text: str):
        if text in words:
            return text
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: {what} must be {forms}") from None
        ok = value == value and abs(value) != float("inf")
        if low is not None:
            ok = ok and (value > low if strict else value >= low)
        if below is not None:
            ok = ok and value < below
        if not ok:
            raise argparse.ArgumentTypeError(
                f"{text!r}: {what} must be {' and '.join(bound) or 'finite'}"
                + (f" (or {' / '.join(repr(w) for w in words)})" if words else ""))
        return value

    return parse


def nonneg_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be >= 0")
    return value


def output_stem(out: str, suffixes: tuple[str, ...] = (".npz",)) -> Path:
    """``OUT`` or ``OUT.npz`` -> ``OUT``; any other dot is part of the name (``run-0.1``)."""
    p = Path(out)
    return p.with_suffix("") if p.suffix.lower() in suffixes else p


def stem_path(stem: Path, ending: str) -> Path:
    """``stem`` + ``ending`` (``.npz``, ``_factors.png``): unlike ``with_suffix``, keeps dots."""
    return stem.with_name(stem.name + ending)


def add_output_options(p: argparse.ArgumentParser, *, quiet: bool = True) -> None:
    """``--overwrite`` and ``--quiet``, the same for every command."""
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing outputs (default: refuse to overwrite)")
    if quiet:
        p.add_argument("--quiet", action="store_true",
                       help="no progress bars or progress messages")


def progress_enabled(args) -> bool:
    """Progress bars unless ``--quiet``."""
    return not getattr(args, "quiet", False)


#: How the command line words an :class:`conformap.io.OutputError` (the library gives data).
OUTPUT_MESSAGES = {
    "exists": "{path} exists; pass --overwrite to replace it, or choose another path",
    "missing": "directory {path} does not exist; create it first (mkdir -p {path}) or choose "
               "another path",
    "not_a_directory": "{path} is a file, not a directory; choose another path",
    "is_a_directory": "{path} is a directory; choose another path",
    "unwritable": "cannot write in {path} ({detail}); choose another path",
}


def _given(args, option: str) -> str:
    return str(getattr(args, option.lstrip("-").replace("-", "_")))


def _phrased(err, option: str, given: str):
    from ..io import OutputError

    text = OUTPUT_MESSAGES[err.reason].format(path=err.path, detail=err.detail)
    return OutputError(err.path, err.reason, err.detail, message=f"{option} {given}: {text}")


def _check_files(args, paths, option: str) -> list[Path]:
    from ..io import OutputError, check_output_files

    try:
        return check_output_files(paths, overwrite=getattr(args, "overwrite", False))
    except OutputError as err:
        raise _phrased(err, option, _given(args, option)) from None


def check_stem_outputs(args, stem: Path, endings, *, option: str = "--out") -> list[Path]:
    """Check the files ``stem + ending`` before computing (see the module docstring).

    ``endings=[""]`` checks the single file ``stem`` itself (``export --out sub.star``).
    """
    return _check_files(args, [stem_path(stem, e) for e in endings], option)


def check_output_directory(args, *, option: str = "--out", files=None) -> Path:
    """Check a command's own output directory before computing (see the module docstring).

    It may be missing (its parent must exist and be writable). Without ``files``, an existing
    non-empty one is refused unless ``--overwrite``; with ``files`` (names relative to the
    directory, for a command that adds its outputs next to others, e.g. ``trajectory``'s
    ``psi2_*`` beside ``psi1_*``), only those that exist are refused. Returns the path; the
    command creates it when it writes.
    """
    from ..io import OutputError, check_output_dir

    given = _given(args, option)
    out = Path(given)
    try:
        check_output_dir(out, may_create=True)
    except OutputError as err:
        raise _phrased(err, option, given) from None
    if files is not None:
        if out.is_dir():
            _check_files(args, [out / f for f in files], option)
        return out
    if out.is_dir() and any(out.iterdir()) and not getattr(args, "overwrite", False):
        raise OutputError(out, "exists", message=(
            f"{option} {given}: directory exists and is not empty; pass --overwrite to "
            "replace its outputs, or choose another directory"))
    return out


def denoise_arg(text: str):
    """--denoise: auto, pca, off, or a positive number of components."""
    from ..denoise import check_denoise

    value = int(text) if text.strip().lstrip("+-").isdigit() else text
    try:
        return check_denoise(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected auto, pca, off or a positive number of components") from None


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
        help="WEMD levels, at most ceil(log2(max(shape))) of the grid, which is also the "
        "default (the coarsest wavelets then span the grid)",
    )
    g.add_argument(
        "--negative",
        choices=["keep", "clip", "error"],
        default=None,
        help="negative voxels: keep (signed WEMD, default, warns), clip, error",
    )
    g.add_argument(
        "--denoise",
        type=denoise_arg,
        default="auto",
        help="PCA denoising of the items before the distances: auto (where the estimated white "
        "noise is >= 10%% of the variance, there are at least 400 items and at most "
        "11 times as many values per item as items), pca (components above "
        "the Marchenko-Pastur edge), off, or a number of components (default auto)",
    )
    g.add_argument("--n-jobs", type=int, default=None, help="threads (default: all cores)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


class StepProgress:
    """A progress bar over a command's stages (tqdm on stderr; off under ``--quiet``).

    >>> with StepProgress(args, "factorize", ["read", "eigenvectors", "write"]) as steps:
    ...     read(); steps.done()          # doctest: +SKIP
    """

    def __init__(self, args, desc: str, steps):
        from tqdm.auto import tqdm

        self.steps = list(steps)
        self.i = 0
        self.bar = tqdm(total=len(self.steps), desc=desc, unit="step", leave=False,
                        disable=not progress_enabled(args))
        self._show()

    def _show(self) -> None:
        if self.i < len(self.steps):
            self.bar.set_postfix_str(self.steps[self.i], refresh=True)

    def done(self) -> None:
        """The current stage finished; show the next one."""
        self.i += 1
        self.bar.update(1)
        self._show()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()
