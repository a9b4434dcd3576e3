"""Atomic models -> molmap-style density maps (conformap.structures) and ``simulate --from-pdb``."""

from __future__ import annotations

import math

import gemmi
import numpy as np
import pytest

from conformap.cli import main
from conformap.io import InputError, read_stack
from conformap.structures import (
    SIGMA_FACTOR,
    Grid,
    common_grid,
    molmap,
    read_models,
    structures_to_maps,
)

# name, element, radius (Å), z offset (Å), angular offset (rad) of a crude poly-Ala helix residue
_ALA = (("N", "N", 1.55, -0.8, -0.25), ("CA", "C", 2.3, 0.0, 0.0), ("C", "C", 1.6, 0.8, 0.25),
        ("O", "O", 1.0, 1.2, 0.35), ("CB", "C", 3.3, 0.1, 0.05))


def helix(n_res=6, n_models=1, twist=0.0, shift=(0.0, 0.0, 0.0), hydrogens=False):
    """A poly-Ala alpha-helix-like structure; model m is rotated by m * twist about z."""
    st = gemmi.Structure()
    st.name = "helix"
    for mi in range(n_models):
        model = gemmi.Model(mi + 1)
        ch = gemmi.Chain("A")
        for i in range(n_res):
            res = gemmi.Residue()
            res.name = "ALA"
            res.seqid = gemmi.SeqId(i + 1, " ")
            t0 = math.radians(100 * i) + twist * mi
            atoms = list(_ALA) + ([("H", "H", 1.9, -1.1, -0.3)] if hydrogens else [])
            for name, el, r, dz, dt in atoms:
                a = gemmi.Atom()
                a.name, a.element = name, gemmi.Element(el)
                a.pos = gemmi.Position(r * math.cos(t0 + dt) + shift[0],
                                       r * math.sin(t0 + dt) + shift[1], 1.5 * i + dz + shift[2])
                a.occ, a.b_iso = 1.0, 20.0
                res.add_atom(a)
            ch.add_residue(res)
        model.add_chain(ch)
        st.add_model(model)
    st.setup_entities()
    return st


@pytest.fixture
def helix_files(tmp_path):
    st = helix(n_models=3, twist=0.6)
    pdb, cif = tmp_path / "ens.pdb", tmp_path / "ens.cif"
    st.write_pdb(str(pdb))
    st.make_mmcif_document().write_file(str(cif))
    return pdb, cif


def test_pdb_and_mmcif_give_the_same_maps(helix_files):
    pdb, cif = helix_files
    a, models_a, grid_a = structures_to_maps(pdb, resolution=4.0)
    b, _models_b, _grid_b = structures_to_maps(cif, resolution=4.0)
    assert a.shape == b.shape == (3, *grid_a.shape)
    assert [m.name for m in models_a] == ["ens.pdb#model1", "ens.pdb#model2", "ens.pdb#model3"]
    # PDB stores coordinates to 1e-3 Å, mmCIF to more digits: maps agree to that precision.
    np.testing.assert_allclose(a, b, atol=2e-3 * a.max())


def test_mass_centroid_and_grid_defaults(helix_files):
    pdb, _ = helix_files
    res = 5.0
    maps, models, grid = structures_to_maps(pdb, resolution=res)
    assert grid.voxel_size == pytest.approx(res / 3)
    h = grid.voxel_size
    m = models[0]
    # Each Gaussian integrates to Z (molmap's normalisation); sampled at spacing h, the voxel sum
    # is that over h^3 (padding 3R keeps every Gaussian inside the box).
    expected = m.weights.sum() / h**3
    assert maps[0].sum(dtype=np.float64) == pytest.approx(expected, rel=1e-3)
    # Centroid of the map (Å, via origin and voxel size) = weighted centroid of the atoms.
    zz, yy, xx = np.indices(grid.shape)
    oz, oy, ox = grid.origin
    w = maps[0].astype(np.float64)
    cen = np.array([(w * (ox + h * xx)).sum(), (w * (oy + h * yy)).sum(),
                    (w * (oz + h * zz)).sum()]) / w.sum()
    np.testing.assert_allclose(cen, np.average(m.coords, axis=0, weights=m.weights), atol=0.02)
    # Padding 3R on every side of the atoms of all models.
    lo = np.min([mm.coords.min(0) for mm in models], axis=0)
    assert np.allclose(np.array(grid.origin[::-1]), lo - 3 * res)


def test_molmap_matches_direct_gaussian_sum():
    rng = np.random.default_rng(0)
    coords = rng.uniform(4, 8, size=(5, 3))
    weights = rng.uniform(1, 8, size=5)
    grid = Grid(shape=(14, 13, 12), voxel_size=1.0, origin=(0.0, 0.0, 0.0))
    got = molmap(coords, weights, resolution=3.0, grid=grid, cutoff=50, dtype=np.float64)
    zz, yy, xx = np.indices(grid.shape)
    sigma = SIGMA_FACTOR * 3.0
    norm = (2 * np.pi * sigma**2) ** -1.5
    want = sum(w * norm * np.exp(-((xx - c[0]) ** 2 + (yy - c[1]) ** 2 + (zz - c[2]) ** 2)
                                 / (2 * sigma**2)) for c, w in zip(coords, weights, strict=True))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_isolated_carbon_peak_matches_molmap_scale():
    # molmap at 6 Å: a carbon atom on a grid point peaks at 6 / (2 pi sigma^2)^(3/2) = 0.155
    # (the paper's 1QO1 map, made with molmap, peaks at 0.164 where atoms overlap).
    grid = Grid(shape=(9, 9, 9), voxel_size=2.0, origin=(-8.0, -8.0, -8.0))
    m = molmap([[0.0, 0.0, 0.0]], [6.0], resolution=6.0, grid=grid)
    assert m.max() == pytest.approx(0.1547, abs=5e-4)
    assert m[4, 4, 4] == m.max()


def test_translation_by_whole_voxels_shifts_the_map(tmp_path):
    h = 1.5
    helix(shift=(0, 0, 0)).write_pdb(str(tmp_path / "a.pdb"))
    helix(shift=(2 * h, 0, 3 * h)).write_pdb(str(tmp_path / "b.pdb"))
    maps, _, _grid = structures_to_maps([tmp_path / "a.pdb", tmp_path / "b.pdb"], resolution=4.5,
                                       voxel_size=h)
    # The common grid holds both; b is a shifted by (z=3, x=2) voxels.
    np.testing.assert_allclose(np.roll(maps[0], (3, 2), axis=(0, 2)), maps[1], atol=1e-5)


def test_several_files_share_one_grid_covering_all_atoms(tmp_path):
    helix().write_pdb(str(tmp_path / "near.pdb"))
    helix(shift=(20, 0, 0)).make_mmcif_document().write_file(str(tmp_path / "far.cif"))
    maps, models, grid = structures_to_maps([tmp_path / "near.pdb", tmp_path / "far.cif"],
                                            resolution=6.0, padding=10.0)
    assert maps.shape[0] == 2
    assert [m.name for m in models] == ["near.pdb", "far.cif"]
    lo = np.array(grid.origin[::-1])
    hi = lo + grid.voxel_size * (np.array(grid.shape[::-1]) - 1)
    for m in models:
        assert (m.coords >= lo + 10 - 1e-9).all()
        assert (m.coords <= hi - 10 + grid.voxel_size).all()
    # An explicit grid is reused; atoms outside it are an error naming the model.
    again, _, g2 = structures_to_maps(tmp_path / "near.pdb", resolution=6.0, grid=grid)
    np.testing.assert_array_equal(again[0], maps[0])
    assert g2 == grid
    small = Grid(shape=(5, 5, 5), voxel_size=1.0, origin=(0.0, 0.0, 0.0))
    with pytest.raises(InputError, match=r"far\.cif: atoms lie outside the given grid"):
        structures_to_maps(tmp_path / "far.cif", resolution=6.0, grid=small)


def test_hand_written_pdb_and_options(tmp_path):
    text = (
        "ATOM      1  CA  ALA A   1       0.000   0.000   0.000  1.00 10.00           C\n"
        "ATOM      2  H   ALA A   1       1.000   0.000   0.000  1.00 10.00           H\n"
        "HETATM    3  O   HOH A 101       5.000   5.000   5.000  1.00 10.00           O\n"
        "END\n"
    )
    p = tmp_path / "tiny.pdb"
    p.write_text(text)
    (m,) = read_models(p)
    np.testing.assert_array_equal(m.weights, [6.0, 1.0])  # water removed, H kept
    (m,) = read_models(p, remove_hydrogens=True, remove_waters=False)
    np.testing.assert_array_equal(m.weights, [6.0, 8.0])


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, "no such file"),
        ("this is not a structure\n", "no models|no atoms|cannot read"),
        ("ATOM      1  CA  ALA A   1       0.000   0.000   0.000  0.00 10.00           C\nEND\n",
         "zero occupancy"),
        ("ATOM      1  XX  UNK A   1       0.000   0.000   0.000  1.00 10.00           Xx\nEND\n",
         "unknown element"),
    ],
)
def test_bad_structure_files_name_the_file(tmp_path, content, match):
    p = tmp_path / "bad.pdb"
    if content is not None:
        p.write_text(content)
    with pytest.raises(InputError, match=match) as info:
        read_models(p)
    assert "bad.pdb" in str(info.value)


def test_too_large_grid_names_the_fix(helix_files):
    pdb, _ = helix_files
    models = read_models(pdb)
    with pytest.raises(ValueError, match="use a larger voxel size"):
        common_grid(models, resolution=4.0, voxel_size=0.01)
    with pytest.raises(ValueError, match="resolution"):
        structures_to_maps(pdb, resolution=-1)


def test_cli_simulate_from_pdb_then_embed(tmp_path, capsys):
    st = helix(n_models=8, twist=0.35)
    st.write_pdb(str(tmp_path / "traj.pdb"))
    out = tmp_path / "maps"
    rc = main(["simulate", "--from-pdb", str(tmp_path / "traj.pdb"), "--resolution", "5",
               "--voxel-size", "2", "--padding", "6", "--out", str(out)])
    assert rc == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == ["models.csv"] + [f"traj_model{i:04d}.mrc" for i in range(1, 9)]
    stack = read_stack(out)
    assert stack.voxel_size == pytest.approx((2.0, 2.0, 2.0))
    maps, _, grid = structures_to_maps(tmp_path / "traj.pdb", resolution=5, voxel_size=2,
                                       padding=6)
    assert stack.origin == pytest.approx(grid.origin, abs=1e-4)
    np.testing.assert_allclose(stack.data[0], maps[0], rtol=1e-6)
    rc = main(["embed", str(out), "--out", str(tmp_path / "emb"), "--quiet",
               "--color-by", f"{out / 'models.csv'}:model"])
    assert rc == 0
    emb = np.load(tmp_path / "emb.npz")["embedding"]
    assert emb.shape == (8, 2)
    assert np.isfinite(emb).all()


def test_cli_simulate_from_bad_pdb_leaves_nothing(tmp_path, capsys):
    bad = tmp_path / "broken.cif"
    bad.write_text("data_x\nloop_\n_atom_site.id\n")
    out = tmp_path / "maps"
    rc = main(["simulate", "--from-pdb", str(bad), "--out", str(out)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "conformap simulate: error:" in err
    assert "broken.cif" in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [bad]


def test_chain_selection(tmp_path):
    st = helix(n_models=2)
    for model in st:
        extra = model[0].clone()
        extra.name = "B"
        for res in extra:
            for a in res:
                a.pos = gemmi.Position(a.pos.x + 15, a.pos.y, a.pos.z)
        model.add_chain(extra)
    st.setup_entities()
    st.write_pdb(str(tmp_path / "ab.pdb"))
    both = read_models(tmp_path / "ab.pdb")
    only_b = read_models(tmp_path / "ab.pdb", chains=["B"])
    assert len(only_b[0].coords) * 2 == len(both[0].coords)
    assert only_b[0].coords[:, 0].min() > 10
    with pytest.raises(InputError, match=r"ab\.pdb: model 1 has no chain\(s\) \['C'\]; its "
                                         r"chains are \['A', 'B'\]"):
        read_models(tmp_path / "ab.pdb", chains=["B", "C"])
    out = tmp_path / "maps"
    assert main(["simulate", "--from-pdb", str(tmp_path / "ab.pdb"), "--chains", "B",
                 "--resolution", "6", "--out", str(out)]) == 0
    with open(out / "models.csv") as fh:
        assert fh.read().splitlines()[1].endswith(",30")  # n_atoms of chain B


def test_cli_noise_is_seeded(tmp_path):
    helix(n_models=2).write_pdb(str(tmp_path / "h.pdb"))
    runs = []
    for out, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        assert main(["simulate", "--from-pdb", str(tmp_path / "h.pdb"), "--noise", "0.1",
                     "--seed", seed, "--resolution", "6", "--out", str(tmp_path / out)]) == 0
        runs.append(read_stack(tmp_path / out).data)
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])
    clean, _, _ = structures_to_maps(tmp_path / "h.pdb", resolution=6)
    resid = runs[0] - clean
    assert 0.05 < resid[0].std() / clean[0].max() < 0.15


def test_gzipped_files_are_read(tmp_path):
    import gzip

    helix(n_models=2).write_pdb(str(tmp_path / "h.pdb"))
    with open(tmp_path / "h.pdb", "rb") as src, gzip.open(tmp_path / "h.pdb.gz", "wb") as dst:
        dst.write(src.read())
    a, _, _ = structures_to_maps(tmp_path / "h.pdb", resolution=6)
    b, models, _ = structures_to_maps(tmp_path / "h.pdb.gz", resolution=6)
    np.testing.assert_array_equal(a, b)
    assert models[1].name == "h.pdb.gz#model2"
    out = tmp_path / "maps"
    assert main(["simulate", "--from-pdb", str(tmp_path / "h.pdb.gz"), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.mrc")) == ["h_model0001.mrc", "h_model0002.mrc"]


def rotor_ensemble(path, angles):
    """A fixed helix (chain A) and a helical arm (chain B) 9 Å off the z axis, rotated by angles."""
    stator, arm = helix(n_res=10)[0][0], helix(n_res=6)[0][0]
    st = gemmi.Structure()
    for mi, ang in enumerate(angles):
        model = gemmi.Model(mi + 1)
        a = stator.clone()
        a.name = "A"
        model.add_chain(a)
        b = arm.clone()
        b.name = "B"
        c, s = math.cos(math.radians(ang)), math.sin(math.radians(ang))
        for res in b:
            for at in res:
                x, y = at.pos.x + 9.0, at.pos.y
                at.pos = gemmi.Position(c * x - s * y, s * x + c * y, at.pos.z + 16.0)
        model.add_chain(b)
        st.add_model(model)
    st.setup_entities()
    st.write_pdb(str(path))


def test_wemd_diffusion_map_recovers_the_rotation_of_a_pdb_ensemble(tmp_path):
    # The paper's pipeline on a toy: models -> 6 Å molmap maps on one grid -> WEMD diffusion
    # map; the embedding is a circle ordered by the arm's rotation angle.
    from conformap import DiffusionMap
    from conformap.evaluate import circle_recovery

    angles = np.random.default_rng(0).uniform(0, 360, 24)
    rotor_ensemble(tmp_path / "rotor.pdb", angles)
    maps, models, grid = structures_to_maps(tmp_path / "rotor.pdb", resolution=6.0)
    assert maps.shape == (24, *grid.shape)
    dm = DiffusionMap(2, metric="wemd", random_state=0).fit(maps)
    assert circle_recovery(dm.embedding_, angles).median_error < 10.0
