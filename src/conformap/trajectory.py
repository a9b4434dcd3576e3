r"""Averages along one embedding coordinate: what the motion a coordinate stands for looks like.

For coordinate :math:`\psi_k` and ``bins`` centres :math:`c_1 < \dots < c_B`, evenly spaced
between the 2nd and 98th percentiles of :math:`\psi_k` (so that a few outliers do not leave the
end bins empty), item :math:`i` gets the Gaussian weight

.. math:: w_{ij} = \exp\!\left(-\frac{(\psi_k(i) - c_j)^2}{2 h^2}\right), \qquad
          h = \text{width} \cdot (c_2 - c_1),

and bin :math:`j` is the weighted mean :math:`\bar x_j = \sum_i w_{ij} x_i / \sum_i w_{ij}`.
With the default ``width = 0.5`` the kernel's full width at half maximum is 1.18 bin spacings:
neighbouring averages share some items (a smooth movie) but each is dominated by its own bin.
The effective number of items behind each average, :math:`n_{\text{eff}} = (\sum_i w_{ij})^2 /
\sum_i w_{ij}^2`, is reported; a small one means a noisy average.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["bin_weights", "kernel_average", "write_cxc", "write_montage"]


def bin_weights(psi, n_bins: int, *, width: float = 0.5, quantiles=(0.02, 0.98)):
    """Gaussian kernel weights of items around bin centres along one coordinate.

    Parameters
    ----------
    psi : ndarray, shape (n,)
    n_bins : int, >= 2
    width : float
        Kernel s.d. in units of the bin spacing (module docstring).
    quantiles : (float, float)
        Where the first and last centres are.

    Returns
    -------
    centres : ndarray, shape (n_bins,)
    weights : ndarray, shape (n_bins, n)
        Rows sum to 1.
    n_eff : ndarray, shape (n_bins,)
    """
    psi = np.asarray(psi, dtype=np.float64)
    if n_bins < 2:
        raise ValueError(f"--bins {n_bins}: need at least 2 bins")
    if not width > 0:
        raise ValueError(f"--width {width}: must be > 0")
    lo, hi = np.quantile(psi, quantiles)
    if not hi > lo:
        raise ValueError("the coordinate takes (almost) a single value; no motion to follow")
    centres = np.linspace(lo, hi, n_bins)
    h = width * (centres[1] - centres[0])
    logw = -((psi[None, :] - centres[:, None]) ** 2) / (2 * h * h)
    logw -= logw.max(axis=1, keepdims=True)  # no underflow to an all-zero row
    w = np.exp(logw)
    n_eff = w.sum(axis=1) ** 2 / (w**2).sum(axis=1)
    return centres, w / w.sum(axis=1, keepdims=True), n_eff


def kernel_average(data, weights, *, chunk: int = 256, progress: bool = False) -> np.ndarray:
    """``weights @ data`` over items, in chunks of items (float64 accumulation).

    Parameters
    ----------
    data : ndarray, shape (n, *shape)
    weights : ndarray, shape (B, n)
    chunk : int
        Items per block (memory: ``chunk * prod(shape)`` float64).
    progress : bool
        A tqdm bar over the blocks (on stderr).

    Returns
    -------
    ndarray, shape (B, *shape), float32
    """
    from tqdm.auto import tqdm

    n = data.shape[0]
    acc = np.zeros((weights.shape[0], int(np.prod(data.shape[1:]))), dtype=np.float64)
    for s in tqdm(range(0, n, chunk), desc="kernel averages", unit="block", leave=False,
                  disable=not progress):
        block = np.asarray(data[s : s + chunk], dtype=np.float64).reshape(-1, acc.shape[1])
        acc += weights[:, s : s + chunk] @ block
    return acc.reshape((weights.shape[0], *data.shape[1:])).astype(np.float32)


def write_cxc(path, files, *, level: float | None = None) -> Path:
    """A ChimeraX script that opens the MRC series and plays it as a volume movie.

    ChimeraX runs a ``.cxc`` with its folder as the working folder, so ``files`` are written
    relative to it.
    """
    from .io import atomic_path

    path = Path(path)
    names = " ".join(Path(f).name for f in files)
    lines = [
        "# Open in ChimeraX (File > Open, or: open " + path.name + ") to play the averages along",
        "# the coordinate as a volume movie; 'vseries stop #1' stops it.",
        f"open {names} vseries true",
    ]
    if level is not None:
        lines.append(f"volume #1 style surface level {level:.6g}")
    lines.append("vseries play #1 loop true direction oscillate maxFrameRate 6")
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path


def write_montage(path, images, labels, *, title: str | None = None) -> Path:
    """Average images side by side (rows of at most 10), each labelled; grey, one scale."""
    from .plotting import pyplot, save_figure

    plt = pyplot()
    images = np.asarray(images)
    n = len(images)
    cols = min(n, 10)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.85 * rows + 0.5),
                             squeeze=False)
    lo, hi = np.percentile(images, [0.5, 99.5])
    for ax in axes.ravel():
        ax.axis("off")
    # the last row may have empty panels (n not a multiple of 10): those stay blank
    for ax, img, lab in zip(axes.ravel()[:n], images, labels, strict=True):
        ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(lab, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
