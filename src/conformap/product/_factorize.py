r"""Product manifold factorization (Zhang, Moscovich & Singer 2021): the function.

Pipeline (``factorize``):

1. Laplacian eigenvectors :math:`\varphi_0 \equiv 1, \varphi_1..\varphi_N` and log-transformed
   eigenvalues :math:`\lambda_k = -2\ln\mu_k/\sigma^2` (:func:`laplacian_spectrum`).
2. Algorithm 1 (:func:`find_triplets`): for each :math:`\varphi_k` the best admissible pair
   :math:`(i, j)`, kept when its similarity exceeds :math:`\gamma`.
3. The separability graph: vertices are the eigenvectors appearing as :math:`i` or :math:`j`
   in a kept triplet but not as a :math:`k` (an eigenvector explained as a product is a
   product eigenvector, not a factor eigenvector; this matters for more than two factors,
   where :math:`\varphi_x\varphi_z` pairs with :math:`\varphi_y`), :math:`W_{ij}` the
   highest similarity of a triplet using the pair (Eq. 21); MAX-CUT (or MAX-k-CUT) splits the
   vertices into factors (:func:`max_cut`). With ``purity`` > 0, pairs of vertices whose
   product is spread over several eigenvectors of its eigenvalue window are linked too
   (:func:`window_links`), and equal cuts are decided by :func:`pair_votes` (``tiebreak``).
1b. Unmixing (``unmix``, default 0.1, :func:`unmix_eigenvectors`): blocks of
   near-degenerate eigenvectors, which a finite graph returns as arbitrary rotations of
   separable eigenfunctions, are rotated back before the search.
4. Optional hierarchical refinement (Sec. 5): a factor bin is factorized again, restricted to
   its eigenvectors and the products of two of them (window links may join any two of its
   eigenvectors); the bins are revised on the whole graph (:func:`refine_bins`) and, with
   ``n_factors="auto"``, two bins cut out of one earlier bin that neither triplets nor pair
   votes separate are joined (:func:`rejoin_unsupported`), as are bins of one factor that no
   link separates (:func:`merge_bins`).
5. After the cut, in this order: other bins' products out of
   the binned eigenvectors (``clean_products``, off), harmonic completion (``harmonics``),
   and the joint rotation of near-degenerate binned eigenvectors of different bins towards
   their own factors (:func:`unmix_bins`, ``UNMIX_BINS``).

Defaults and how they scale
---------------------------
``bandwidth="auto"``
    (:data:`conformap.product.AUTO_BANDWIDTH_RULE`, applied in :func:`laplacian_spectrum`)
    The longest edge of the minimum spanning tree of the data (``select_bandwidth(rule="mst")``),
    the smallest :math:`\sigma` at which the graph is connected. It shrinks with the sampling
    density like :math:`(\log n / n)^{1/d}` and scales with the data's units.
``delta="auto"``
    A window per eigenvector k: :math:`\delta_k = \max(0.5\,\lambda_1,\ 0.05\,\lambda_k)`,
    with :math:`\lambda_1` the smallest non-trivial log-eigenvalue (the paper uses one constant
    :math:`\delta`; a constant is used whenever ``delta`` is a number). Same-factor pairs miss
    the eigenvalue sum by at least :math:`2\lambda^{(f)}_1 \ge 2\lambda_1`
    (:math:`\lambda_{m+n} - \lambda_m - \lambda_n = 2mn\lambda_1` on an interval or circle),
    four times the constant part, while true pairs of the low product eigenvectors miss it by
    0.01-0.6 :math:`\lambda_1` (rectangle, n = 5000). Eigenvalue errors grow with
    :math:`\lambda_k` (2-6 % for true pairs measured on the rectangle and the box), which the
    relative part follows: without it the box (sides 2.8, 1.5, 7), whose :math:`\lambda_1`
    comes from its long side, lost its x-y products at n = 10,000 (accuracy 0.4-0.6; 0.7-0.78
    with it; rectangle n = 10,000: 13 instead of 11 eigenvectors binned, all correct). The
    constants were chosen on the paper's data sets (``docs/product-manifold``), so they are not
    an independent validation. Both parts scale like the eigenvalues, as
    (data units)\ :math:`^{-2}`, so the result does not depend on the units.
``gamma=0.75``
    A same-factor product :math:`\cos(m\theta)\cos(n\theta)` has similarity
    :math:`1/\sqrt2 \approx 0.707` with :math:`\cos((m+n)\theta)`; any :math:`\gamma > 0.707`
    rejects it. Scale-free (a cosine). The paper uses 0.75-0.85.
"""

from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np
import scipy.sparse as sp

from .._validation import (
    check_bool,
    check_int,
    check_positive,
    check_rng,
)
from ._denoise import AUTO_MIN_FEATURES, pca_denoise
from ._harmonics import added_confidence, finish_bins
from ._placement import merge_bins, place_left, refine_bins, rejoin_unsupported
from ._result import FactorizationResult, FactorizationWarning
from ._separability import assignment_confidence, split_columns
from ._spectrum import DENSE_LIMIT, LaplacianSpectrum, laplacian_spectrum, spectral_dimension
from ._triplets import product_share
from ._unmix import DEFAULT_UNMIX, unmix_eigenvectors

__all__ = ["DEFAULT_GAMMA", "factorize", "factorize_spectrum"]

DEFAULT_GAMMA = 0.75
#: Relative eigenvalue gap below which neighbouring eigenvectors are one degenerate group.
DEFAULT_DEGENERACY = 0.05
#: Smallest purity of a kept triplet's product (find_triplets): two eigenfunctions of one factor
#: give 1/2 in the limit (measured 0.13-0.19 on images), true products 1 (measured 0.61-0.99:
#: rectangle n = 500, images n = 2000).
DEFAULT_PURITY = 0.6
#: n_factors="auto": at most this many factors; a bin is split again only when its own
#: separability graph is cut this cleanly and rests on at least this many triplets.
MAX_AUTO_FACTORS = 6
AUTO_MIN_CUT_FRACTION = 0.9
AUTO_MIN_TRIPLETS = 2
#: A binned eigenvector whose pure-product share (product_share) reaches this is a mixture of a
#: factor mode and a product mode of nearly the same eigenvalue: left out of the bins. sqrt(0.2):
#: less than 80 % of its variance would be a factor's (the threshold at which
#: conformap.evaluate calls an eigenvector a factor eigenvector).
MIXED_SHARE = 0.2**0.5
#: n_factors="auto": a product of two manifolds has dimension >= 2; below this spectral
#: dimension (Weyl's law over the resolved eigenvalues, spectral_dimension) the data are one
#: factor whatever triplets chance produces (1-D sets measure 0.99-1.34, 2-D ones 1.71-2.07)
AUTO_MIN_PRODUCT_DIMENSION = 1.5
#: delta="auto" is this multiple of the first non-trivial log-eigenvalue ...
AUTO_DELTA = 0.5
#: ... or this fraction of lambda_k, whichever is larger (for eigenvector k).
AUTO_RELATIVE = 0.05
#: Clean and complete each factor's eigenvectors by functions of its leading ones
#: (complete_harmonics). On since section 12 of diagnosis.md: section 10 found mixed vectors
#: added at SNR 0.1, n = 6000; section 11's spread limit still lost one held-out target (n = 6000
#: SNR 1 seed 102, its clean step) and added a mixed vector at n = 10,000. With the share bound
#: (HARMONIC_MIN_SHARE) and no clean step (HARMONIC_CLEAN) it met the target on one more
#: chosen and one more held-out run than without, lost none, kept every mixed vector out at SNR
#: 0.1 (n up to 10,000), and gained on the rectangle, torus and box; at SNR 1 it still adds a
#: ground-truth mixture on 3 of 28 held-out runs (accuracy, not confident accuracy, drops).
DEFAULT_HARMONICS = True
#: Rotate other bins' products out of each binned eigenvector after the cut (clean_products).
#: Off: in section 11 it helped on held-out runs and hurt none, but lowered one regression run
#: (two-factor images, n = 2000, SNR 1, seed 1: accuracy 0.889 -> 0.778).
DEFAULT_CLEAN_PRODUCTS = False
#: "auto": join two bins cut out of one earlier bin that neither triplets nor pair votes
#: separate (rejoin_unsupported; diagnosis.md section 13: 4 more image runs meet the target,
#: none lost on 117 image runs and the rectangle, torus and box)
REJOIN = True


def _check_thresholds(delta, gamma):
    if not (isinstance(delta, str) and delta == "auto"):
        delta = check_positive(delta, "delta")
    gamma = check_positive(gamma, "gamma", allow_zero=True)
    if gamma >= 1:
        raise ValueError(f"gamma: {gamma} is out of range; use a similarity in [0, 1) (paper: "
                         "0.75-0.85)")
    return delta, gamma


def _check_purity(purity) -> float:
    purity = check_positive(purity, "purity", allow_zero=True)
    if purity >= 1:
        raise ValueError(f"purity: {purity} is out of range; use a value in [0, 1) (0 = the "
                         f"paper's Algorithm 1, default {DEFAULT_PURITY})")
    return purity


def _check_switches(hierarchical, harmonics, clean_products):
    return (check_bool(hierarchical, "hierarchical"), check_bool(harmonics, "harmonics"),
            check_bool(clean_products, "clean_products"))


def _check_n_factors(n_factors):
    if isinstance(n_factors, str):
        if n_factors != "auto":
            raise ValueError(f"n_factors: {n_factors!r} is not supported; use 'auto' or an "
                             "integer >= 2")
        return "auto"
    return check_int(n_factors, "n_factors", low=2)


def factorize_spectrum(spectrum: LaplacianSpectrum, *, n_factors="auto", delta="auto",
                       gamma: float = DEFAULT_GAMMA, hierarchical: bool = False,
                       n_rounds: int = 1000, rng=None, t_spectrum: float = 0.0,
                       degeneracy: float = DEFAULT_DEGENERACY,
                       purity: float = DEFAULT_PURITY,
                       unmix: float = DEFAULT_UNMIX,
                       harmonics: bool = DEFAULT_HARMONICS,
                       clean_products: bool = DEFAULT_CLEAN_PRODUCTS) -> FactorizationResult:
    """Factorize a precomputed :class:`LaplacianSpectrum` (steps 2-4 of :func:`factorize`)."""
    delta, gamma = _check_thresholds(delta, gamma)
    hierarchical, harmonics, clean_products = _check_switches(hierarchical, harmonics,
                                                              clean_products)
    k = _check_n_factors(n_factors)
    auto = k == "auto"
    if auto:
        k, hierarchical = MAX_AUTO_FACTORS, True
    rounds = check_int(n_rounds, "n_rounds", low=1)
    degeneracy = check_positive(degeneracy, "degeneracy", allow_zero=True)
    purity = _check_purity(purity)
    unmix = check_positive(unmix, "unmix", allow_zero=True)
    phi = spectrum.eigenvectors
    lam = spectrum.eigenvalues
    if phi.shape[1] < 4:
        raise ValueError(
            f"n_eigenvectors: got {phi.shape[1] - 1} non-trivial eigenvectors; factorization "
            "needs at least 3"
        )
    # only eigenvectors above the graph's noise floor: below it they are sampling noise, and
    # a smooth factor times a noise vector matches the next noise vector by chance
    resolved = spectrum.markov_eigenvalues > spectrum.noise_floor
    resolved[0] = False
    cols = np.flatnonzero(resolved)
    if cols.size < 3:
        cols = np.arange(1, min(4, phi.shape[1]))
    if unmix > 0:
        # rotate near-degenerate eigenvectors back to separable functions (conformap.product.
        # unmix_eigenvectors) before any triplet is searched
        um = unmix_eigenvectors(phi[:, cols], lam[cols], tol=unmix, lost=gamma)
        phi, lam = phi.copy(), lam.copy()
        phi[:, cols], lam[cols] = um.eigenvectors, um.eigenvalues
    if delta == "auto":
        delta = AUTO_DELTA * float(lam[1])
        delta_cols = np.maximum(delta, AUTO_RELATIVE * lam)
    else:
        delta_cols = np.full(lam.shape, float(delta))
    gen = check_rng(rng)
    top = split_columns(cols, phi, lam, delta=delta_cols, gamma=gamma,
                        n_parts=2 if hierarchical else k, n_rounds=rounds, rng=gen,
                        degeneracy=degeneracy, purity=purity, window_cols=cols)
    search = top["search"]
    best_pair = np.full((phi.shape[1], 2), -1, dtype=np.int64)
    ok = search.best_pair[:, 0] >= 0
    best_pair[cols[ok]] = cols[search.best_pair[ok]]
    best_score = np.zeros(phi.shape[1])
    best_score[cols] = search.best_score
    timings = {"diffusion_map": t_spectrum, "triplets": top["t_triplets"],
               "sorting": top["t_sorting"]}
    common = {"best_pair": best_pair, "best_score": best_score, "eigenvectors": phi,
              "eigenvalues": lam, "bandwidth": spectrum.bandwidth, "delta": float(delta),
              "gamma": float(gamma)}
    # "auto": a product rests on at least AUTO_MIN_TRIPLETS triplets (as every further split)
    small = auto and top["triplets"].shape[0] < AUTO_MIN_TRIPLETS
    dim = spectral_dimension(lam[cols])
    low_dim = auto and bool(dim < AUTO_MIN_PRODUCT_DIMENSION)
    if top["triplets"].shape[0] == 0 or len(top["bins"]) < 2 or small or low_dim:
        return _one_factor(top, common, timings, requested=None if auto else k,
                           n_resolved=int(cols.size), floor=float(spectrum.noise_floor),
                           dimension=dim if low_dim else None)
    if "warning" in top:
        warnings.warn(top["warning"], FactorizationWarning, stacklevel=2)
    bins = list(top["bins"])
    levels = [{"split": "all", "bins": [b.tolist() for b in bins]}]
    fractions = [float(top["cut_fraction"])]
    sep = top["separability"]
    triplets, scores = [top["triplets"]], [search.scores]
    unassigned = [top["unassigned"]]
    partitions = [bins]
    if hierarchical:
        all_trip = top["triplets"]
        while len(bins) < k:
            best_sub, best_w, best_b = None, 0.0, -1
            for b, members in enumerate(bins):
                # the bin's eigenvectors and the products of two of them (functions of the
                # same sub-manifold)
                inside = np.isin(all_trip[:, 0], members) & np.isin(all_trip[:, 1], members)
                sub_cols = np.unique(np.concatenate([members, all_trip[inside, 2]]))
                if sub_cols.size < 3:
                    continue
                # (a sub-split's disconnected-graph note is not warned: the bin stays whole)
                sub = split_columns(sub_cols, phi, lam, delta=delta_cols, gamma=gamma,
                                    n_parts=2, n_rounds=rounds, rng=gen,
                                    degeneracy=degeneracy, purity=purity, window_cols=cols,
                                    members=members)
                timings["triplets"] += sub["t_triplets"]
                timings["sorting"] += sub.get("t_sorting", 0.0)
                # "auto": a bin is a product only if its own triplets form a near-bipartite
                # graph (a split of a single factor would rest on chance triplets)
                # and on products that are not themselves eigenvectors of the bin
                n_prod = int(np.sum(~np.isin(sub["triplets"][:, 2], members))) + sub["n_window"]
                supported = (not auto) or (
                    sub["cut_fraction"] >= AUTO_MIN_CUT_FRACTION and n_prod >= AUTO_MIN_TRIPLETS)
                if len(sub["bins"]) == 2 and supported and sub["cut_weight"] > best_w:
                    best_sub, best_w, best_b = sub, sub["cut_weight"], b
            if best_sub is None:
                if not auto:
                    warnings.warn(
                        f"hierarchical factorization stopped at {len(bins)} factors: no bin "
                        "splits further (no triplet inside any bin)",
                        FactorizationWarning,
                        stacklevel=2,
                    )
                break
            new = best_sub["bins"]
            left = np.setdiff1d(bins[best_b], np.concatenate(new))
            if left.size and purity > 0 and len(new) == 2:
                new, _placed = place_left(new, left, phi, lam, delta_cols)
            levels.append({"split": bins[best_b].tolist(), "bins": [b.tolist() for b in new]})
            fractions.append(float(best_sub["cut_fraction"]))
            bins = bins[:best_b] + new + bins[best_b + 1:]
            partitions.append(bins)
            sep = np.maximum(sep, best_sub["separability"])
            triplets.append(best_sub["triplets"])
            scores.append(best_sub["search"].scores)
            # eigenvectors of the split bin that the sub-search did not place
            left = np.setdiff1d(levels[-1]["split"], np.concatenate(new))
            unassigned.append(left)
    if hierarchical and len(bins) >= 2:
        # the levels were cut one at a time: revisit ties and uncut links on the whole graph
        bins, steps = refine_bins(bins, sep, phi, lam, degeneracy=degeneracy, max_parts=k,
                                  min_fraction=AUTO_MIN_CUT_FRACTION, grow=auto)
        for st in steps:
            levels.append({"split": st["split"], "bins": st["bins"]})
            fractions.append(float(st["cut_fraction"]))
    if auto and REJOIN and len(bins) > 2:
        bins, steps = rejoin_unsupported(bins, partitions, np.concatenate(triplets), sep, phi,
                                         lam, degeneracy=degeneracy)
        for st in steps:
            levels.append({"split": st["split"], "bins": st["bins"],
                           "triplets": st["triplets"], "vote": st["vote"]})
            fractions.append(float(st["cut_fraction"]))
    if auto and purity > 0 and len(bins) > 2:
        # bins that no link separates and whose cross products lie below their windows are
        # one factor cut in two (merge_bins). Its window test asks whether the products lie in
        # the span of the eigenvectors near lambda_u + lambda_v, or below it, not whether any one
        # eigenvector is resolved, so it takes every computed column: on the resolved ones only,
        # the windows of the rotor's pairs (three-part images, n = 10,000, SNR 0.1) lay beyond
        # them and the split rotor was never judged (diagnosis.md section 9, session 6b)
        bins, steps = merge_bins(bins, sep, phi, lam, delta_cols,
                                 np.arange(1, phi.shape[1]), purity=purity)
        for st in steps:
            levels.append({"split": st["split"], "bins": st["bins"],
                           "low_share": st["low_share"]})
            fractions.append(float(st["cut_fraction"]))
    bins = [np.asarray(sorted(b.tolist()), dtype=np.int64) for b in bins]
    mixed = []
    if purity > 0:
        for b, members in enumerate(bins):
            share = product_share(phi[:, 1:], lam[1:], members - 1, delta=delta_cols[1:],
                                  purity=purity)
            out = share >= MIXED_SHARE
            if out.any() and not out.all():
                mixed.append(members[out])
                bins[b] = members[~out]
    mixed = np.concatenate(mixed) if mixed else np.zeros(0, dtype=np.int64)
    unassigned.append(mixed)
    trip = np.concatenate(triplets)
    # after the cut: other bins' products out of the binned eigenvectors (an option), harmonic
    # completion (every resolved column outside the bins takes part, identified products and
    # mixed columns too: three-part images, n = 3000, SNR 1, seed 0, the bar's second mode is
    # mixed with product columns; diagnosis.md sections 10 and 11), then unmix_bins (binned
    # columns only; section 14)
    phi, lam, bins, post, added = finish_bins(bins, phi, lam,
                                              np.setdiff1d(cols, np.concatenate(bins)),
                                              products=clean_products, harmonics=harmonics)
    common.update(eigenvectors=phi, eigenvalues=lam)
    levels += post
    # no bin changes after the cut (columns are rotated or added, links are not recomputed):
    # the partition's cut fraction is kept
    fractions += [fractions[-1]] * len(post)
    assigned = np.concatenate(bins) if bins else np.zeros(0, dtype=np.int64)
    products_found = np.setdiff1d(np.unique(trip[:, 2]), assigned)
    conf = added_confidence(assignment_confidence(bins, sep), bins, added)
    sizes = ", ".join(f"{len(b)}" for b in bins)
    message = (
        f"{len(bins)} factors ({sizes} factor eigenvectors; {len(trip)} product triplets, "
        f"similarity {float(np.min(np.concatenate(scores))):.2f}-"
        f"{float(np.max(np.concatenate(scores))):.2f}; cut fraction "
        + ", ".join(f"{f:.2f}" for f in fractions)
        + (" (number of factors from the data)" if auto else "") + ")"
        + (f"; {mixed.size} eigenvectors left out as mixtures of a factor and a product mode "
           f"({', '.join(f'φ{c}' for c in mixed.tolist())})" if mixed.size else "")
    )
    return FactorizationResult(
        factors=bins,
        products=products_found,
        triplets=trip,
        scores=np.concatenate(scores),
        separability=sep,
        unassigned=np.setdiff1d(np.concatenate(unassigned), assigned),
        cut_weight=float(top["cut_weight"]),
        sdp_bound=float(top["sdp_bound"]),
        levels=levels,
        timings=timings,
        confidence=conf,
        cut_fraction=fractions,
        message=message,
        **common,
    )


def _one_factor(top: dict, common: dict, timings: dict, requested, *, n_resolved: int = 0,
                floor: float = 0.0, dimension=None) -> FactorizationResult:
    """The result for data with no product structure: every eigenvector in one factor."""
    n_all = common["eigenvectors"].shape[1]
    best_score, best_pair = common["best_score"], common["best_pair"]
    order = np.argsort(best_score[1:])[::-1][:3] + 1
    tops = ", ".join(f"φ{k} ~ φ{best_pair[k, 0]}·φ{best_pair[k, 1]}: S = {best_score[k]:.2f}"
                     for k in order if best_pair[k, 0] >= 0)
    if top["triplets"].shape[0] == 0:
        why = (f"no eigenvector is the product of two others: the best similarities are "
               f"{tops or 'none (no pair passes the eigenvalue criterion)'}, none above "
               f"gamma = {common['gamma']:g}")
    elif dimension is not None:
        why = (f"the spectrum has dimension {dimension:.2f} by Weyl's law (a product of two "
               f"manifolds has at least 2; threshold {AUTO_MIN_PRODUCT_DIMENSION:g}), so the "
               f"{top['triplets'].shape[0]} product triplets found are taken as chance "
               f"(best: {tops})")
    elif len(top["bins"]) >= 2:
        why = (f"a single product triplet is found, and a product needs at least "
               f"{AUTO_MIN_TRIPLETS} (best: {tops})")
    else:
        why = (f"the {top['triplets'].shape[0]} product triplets found do not link two "
               f"groups of eigenvectors (best: {tops})")
    if n_resolved:
        why += (f"; searched the {n_resolved} eigenvectors above the graph's noise floor "
                f"(Markov eigenvalue > {floor:.3g})")
    message = f"1 factor: the data do not look like a product manifold; {why}"
    if requested is not None:
        warnings.warn(f"n_factors={requested} was asked for, but {message}",
                      FactorizationWarning, stacklevel=3)
    cols = np.arange(1, n_all)
    return FactorizationResult(
        factors=[cols],
        products=np.zeros(0, dtype=np.int64),
        triplets=top["triplets"],
        scores=top["search"].scores,
        separability=top["separability"],
        unassigned=np.zeros(0, dtype=np.int64),
        cut_weight=0.0,
        sdp_bound=0.0,
        levels=[],
        timings=timings,
        confidence=[np.clip(1.0 - best_score[cols], 0.0, 1.0)],
        cut_fraction=[],
        message=message,
        **common,
    )


def factorize(X, *, n_eigenvectors: int = 100, n_factors="auto", delta="auto",
              gamma: float = DEFAULT_GAMMA, bandwidth="auto", metric: str = "l2",
              hierarchical: bool = False, n_rounds: int = 1000, dense_limit: int = DENSE_LIMIT,
              preprocess="auto", degeneracy: float = DEFAULT_DEGENERACY,
              purity: float = DEFAULT_PURITY, unmix: float = DEFAULT_UNMIX,
              harmonics: bool = DEFAULT_HARMONICS,
              clean_products: bool = DEFAULT_CLEAN_PRODUCTS, rng=None) -> FactorizationResult:
    r"""Split the Laplacian eigenvectors of a data set into factor manifolds.

    Parameters
    ----------
    X : array_like, shape (n, ...) or (n, n)
        Points (trailing axes flattened), or distances with ``metric="precomputed"``.
    n_eigenvectors : int, default 100
        Number N of non-trivial eigenvectors searched (the paper uses 100).
    n_factors : int or "auto", default "auto"
        Number of factors. "auto": from the data: no product triplet means one factor;
        otherwise a two-way MAX-CUT, and each bin is split again while its own triplets form a
        near-bipartite separability graph (cut fraction >= 0.9, at least 2 triplets); the bins
        are then revised on the whole graph (:func:`refine_bins`); two bins cut out of one
        earlier bin that no triplet joins (``REJOIN_MIN_TRIPLETS``) and whose pair votes do not
        separate are joined (:func:`rejoin_unsupported`), and so are two bins that no link
        separates and whose cross products lie below their windows (:func:`merge_bins`). An
        integer k >= 2 forces k factors: MAX-k-CUT, or repeated two-way splits with
        ``hierarchical=True``.
    delta : float or "auto", default "auto"
        Eigenvalue criterion :math:`|\lambda_i + \lambda_j - \lambda_k| < \delta` in units of
        the log-eigenvalues; "auto" is :math:`\delta_k = \max(0.5\lambda_1, 0.05\lambda_k)`
        (see the module docstring).
    gamma : float in [0, 1), default 0.75
        Eigenvector criterion: minimum similarity of a kept triplet.
    bandwidth : float or str, default "auto"
        Gaussian kernel :math:`\sigma`; "auto" is the minimum-spanning-tree scale ("mst");
        other strings are rules of :func:`conformap.select_bandwidth`.
    metric : {"l2", "l1", "precomputed"}, default "l2"
    hierarchical : bool, default False
        Factorize by successive two-way splits (Sec. 5) until ``n_factors`` bins.
    n_rounds : int, default 1000
        Random roundings of the SDP.
    dense_limit : int, default 0
        Largest n for a dense graph (above: sparse radius graph at 4 sigma).
    preprocess : "auto", "none" or int, default "auto"
        "auto": items with more than 100 features (images, maps) under ``metric="l2"`` are
        projected on their principal components above the noise's Marchenko-Pastur edge
        (:func:`pca_denoise`; measured in ``docs/product-manifold/diagnosis.md``); an integer
        keeps that many components; "none" uses the features as given.
    degeneracy : float >= 0, default 0.05
        Relative eigenvalue gap below which neighbouring eigenvectors are treated as one
        degenerate eigenspace in the triplet search (:func:`find_triplets`); 0 is the paper's
        Algorithm 1.
    purity : float in [0, 1), default 0.6
        A kept triplet's product must lie at least this much on eigenvectors at the sum of
        its eigenvalues rather than below (:func:`product_purity`): two eigenfunctions of one
        factor give 1/2, a true product 1. 0 is the paper's Algorithm 1.
    unmix : float >= 0, default 0.1 (``conformap.product.DEFAULT_UNMIX``)
        Relative eigenvalue gap below which neighbouring resolved eigenvectors are rotated
        together back to separable functions before the triplet search
        (:func:`unmix_eigenvectors`: products of lower eigenvectors, then a fourth-moment
        rotation); 0 is the paper's algorithm (eigenvectors as the graph gives them). Measured
        in ``docs/product-manifold/diagnosis.md`` sections 7 and 8.
    harmonics : bool, default True (``conformap.product.DEFAULT_HARMONICS``)
        After the cut, add each factor's missed eigenvectors: within 10 % of an eigenvalue,
        the resolved unbinned columns are rotated so that one is a polynomial (degree <= 3)
        of the factor's leading eigenvector(s) (adjusted R^2 >= 0.9; :func:`complete_harmonics`;
        cleaning the bins' own members that way is ``HARMONIC_CLEAN``, off). Measured in
        ``diagnosis.md`` section 10: more confident eigenvectors at high SNR, but at SNR 0.1,
        n = 6000 it also added mixed vectors with high confidence; section 11 limits the spread
        of an added vector (``HARMONIC_MAX_SPREAD``), section 12 the share of it that one window
        eigenvector holds (``HARMONIC_MIN_SHARE``); see ``DEFAULT_HARMONICS``.
    clean_products : bool, default False (``DEFAULT_CLEAN_PRODUCTS``)
        After the cut, rotate the products of two binned eigenvectors of different bins (neither
        of them the one cleaned) out of each binned eigenvector within ``HARMONIC_WINDOW`` of
        its eigenvalue (:func:`clean_products`; ``levels`` step
        "products"). Measured in ``diagnosis.md`` section 11.
    rng : int or Generator, optional
        Seeds the sparse eigensolver and the rounding.

    Returns
    -------
    FactorizationResult

    Raises
    ------
    ValueError
        Bad parameters, too few eigenvectors or items, a disconnected affinity graph, or no
        triplet passing the criteria (the message says which threshold to change).

    References
    ----------
    S. Zhang, A. Moscovich and A. Singer, "Product manifold learning", AISTATS 2021.
    """
    delta, gamma = _check_thresholds(delta, gamma)
    n_vec = check_int(n_eigenvectors, "n_eigenvectors", low=3)
    _check_n_factors(n_factors)
    _check_purity(purity)
    _check_switches(hierarchical, harmonics, clean_products)  # before the spectrum's minutes
    gen = check_rng(rng)
    t0 = time.perf_counter()
    X, prep = _preprocess(X, preprocess, metric, gen)
    spec = laplacian_spectrum(X, n_eigenvectors=n_vec, metric=metric,
                              bandwidth=bandwidth,
                              dense_limit=dense_limit, rng=gen)
    t_spec = time.perf_counter() - t0
    res = factorize_spectrum(spec, n_factors=n_factors, delta=delta, gamma=gamma,
                             hierarchical=hierarchical, n_rounds=n_rounds, rng=gen,
                             t_spectrum=t_spec, degeneracy=degeneracy, purity=purity,
                             unmix=unmix, harmonics=harmonics, clean_products=clean_products)
    return dataclasses.replace(res, preprocessing=prep)


def _preprocess(X, preprocess, metric: str, gen):
    """Features for the graph and a description of what was done (see ``factorize``)."""
    if not (isinstance(preprocess, str) and preprocess in ("auto", "none")):
        preprocess = check_int(preprocess, "preprocess", low=1)
    if preprocess == "none" or metric == "precomputed" or sp.issparse(X):
        return X, {"method": "none"}
    arr = np.asarray(X)
    n_feat = int(np.prod(arr.shape[1:])) if arr.ndim >= 2 else 1
    if preprocess == "auto" and (metric != "l2" or n_feat <= AUTO_MIN_FEATURES):
        return X, {"method": "none"}
    if metric != "l2":
        raise ValueError(f"preprocess: PCA ({preprocess} components) needs metric='l2', got "
                         f"{metric!r}; use preprocess='none'")
    den = pca_denoise(arr, "auto" if preprocess == "auto" else preprocess, rng=gen)
    return den.scores, {"method": "pca", "n_components": den.n_components,
                        "noise_variance": den.noise_variance, "edge": den.edge,
                        "rule": "marchenko-pastur" if preprocess == "auto" else "fixed"}
