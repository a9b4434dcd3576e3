"""``conformap trajectory``: kernel averages of the inputs along one embedding coordinate."""

from __future__ import annotations

import sys

from ._common import (
    StepProgress,
    add_output_options,
    check_output_directory,
    positive_float,
    positive_int,
    progress_enabled,
)


def register(sub) -> None:
    p = sub.add_parser(
        "trajectory",
        help="average the input maps (or images) along one embedding coordinate",
        description="Read the items that EMB.npz embedded again (the paths it records, or "
        "--input), average them with Gaussian kernel weights around --bins centres along "
        "psi_K (centres evenly spaced between the 2nd and 98th percentiles; kernel s.d. "
        "--width bin spacings) and write, for maps, OUT/psiK_binNN.mrc (voxel size and origin "
        "of the inputs) plus OUT/psiK_movie.cxc, a ChimeraX script that plays them as a "
        "volume movie; for images, OUT/psiK_averages.mrcs and a labelled montage "
        "OUT/psiK_montage.png. OUT/psiK_bins.csv lists each centre and its effective number "
        "of items.",
    )
    p.add_argument("embedding", metavar="EMB.npz", help="output of conformap embed")
    p.add_argument("--coordinate", type=positive_int, default=1, metavar="K",
                   help="which coordinate psi_K to follow (1-based; default 1)")
    p.add_argument("--bins", type=positive_int, default=10, help="averages (default 10)")
    p.add_argument("--width", type=positive_float, default=0.5,
                   help="kernel s.d. in bin spacings (default 0.5: FWHM 1.18 spacings)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--input", nargs="+", default=None, metavar="INPUT",
                   help="the embedded items, if they moved since 'conformap embed'")
    p.add_argument("--datadir", default=None, metavar="DIR",
                   help="for a .star/.cs particle file: the folder its stack paths are relative to")
    add_output_options(p)
    p.set_defaults(func=run)


def planned_outputs(k: int, n_bins: int) -> list[str]:
    """The files ``trajectory`` may write in OUT for psi_K (maps or images: known after reading)."""
    return [f"psi{k}_bins.csv", f"psi{k}_movie.cxc", f"psi{k}_montage.png",
            f"psi{k}_averages.mrcs", *(f"psi{k}_bin{j + 1:02d}.mrc" for j in range(n_bins))]


def run(args) -> int:
    import numpy as np

    from ..io import InputError, read_stack, write_csv, write_mrc
    from ..report import load_embedding
    from ..trajectory import bin_weights, kernel_average, write_cxc, write_montage

    k = args.coordinate
    # OUT may hold other coordinates' outputs: only this run's files are refused
    out = check_output_directory(args, files=planned_outputs(k, args.bins))
    emb = load_embedding(args.embedding)
    k_dim = emb.embedding.shape[1]
    if k > k_dim:
        raise InputError(f"--coordinate {k}: the embedding has {k_dim} "
                         f"coordinates (1 ... {k_dim})")
    if args.bins < 2:
        raise InputError(f"--bins {args.bins}: need at least 2 averages")
    inputs = args.input or emb.inputs
    if not inputs:
        raise InputError(f"{args.embedding}: records no input paths (written by an older "
                         "conformap); pass --input with the embedded items")
    with StepProgress(args, "trajectory", ["read items", "kernel averages", "write"]) as bar:
        stack = read_stack(inputs, densities=False, datadir=args.datadir or emb.datadir)
        if stack.names != emb.names:
            raise InputError(
                f"{', '.join(map(str, inputs))}: {len(stack.names)} items that do not match the "
                f"{len(emb.names)} embedded items (by name and order); pass --input with the "
                "items that were embedded"
            )
        if stack.data.ndim not in (3, 4):
            raise InputError(f"{inputs[0]}: items of shape {stack.data.shape[1:]} are neither "
                             "maps nor images; trajectory averages 2-D or 3-D items")
        bar.done()
        centres, weights, n_eff = bin_weights(emb.embedding[:, k - 1], args.bins,
                                              width=args.width)
        avg = kernel_average(stack.data, weights, progress=progress_enabled(args))
        bar.done()
        out.mkdir(exist_ok=True)  # its parent was checked: never created here
        written = [write_csv(out / f"psi{k}_bins.csv", ["bin", f"psi{k}_centre", "n_eff"],
                             [[j + 1, f"{c:.6g}", f"{e:.1f}"]
                              for j, (c, e) in enumerate(zip(centres, n_eff, strict=True))])]
        voxel = stack.voxel_size or 1.0
        if avg.ndim == 4:  # maps
            files = [write_mrc(out / f"psi{k}_bin{j + 1:02d}.mrc", a, voxel_size=voxel,
                               origin=stack.origin) for j, a in enumerate(avg)]
            written += files
            written.append(write_cxc(out / f"psi{k}_movie.cxc", files))
        else:  # images
            written.append(write_mrc(out / f"psi{k}_averages.mrcs", avg, voxel_size=voxel,
                                     origin=stack.origin))
            labels = [f"ψ{k} = {c:.3g}\nn_eff {e:.0f}"
                      for c, e in zip(centres, n_eff, strict=True)]
            written.append(write_montage(out / f"psi{k}_montage.png", avg, labels,
                                         title=f"averages along ψ{k} ({len(emb.names)} images, "
                                         f"kernel s.d. {args.width:g} bin spacings)"))
        bar.done()
    low = float(np.min(n_eff))
    if low < 3:
        import warnings

        from .._validation import ConformapWarning

        warnings.warn(f"the emptiest bin averages only {low:.1f} effective items; use fewer "
                      "--bins or a larger --width", ConformapWarning, stacklevel=1)
    print(f"wrote {len(written)} files to {out}/ ({args.bins} averages along psi{k}, "
          f"n_eff {low:.1f} to {float(np.max(n_eff)):.1f})", file=sys.stdout)
    return 0
