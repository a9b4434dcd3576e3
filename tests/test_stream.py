"""stream.open_stack: the same Stack as io.read_stack, memory-mapped; errors name the item."""

from __future__ import annotations

import mrcfile
import numpy as np
import pytest

from conformap.io import InputError, read_stack
from conformap.particles import write_particle_set
from conformap.stream import open_stack


@pytest.fixture(scope="module")
def images():
    r = np.random.default_rng(0)
    return (r.random((40, 12, 12)) + 0.1).astype(np.float32)


def _same(a, b):
    np.testing.assert_array_equal(np.asarray(a.data), b.data)
    assert a.names == b.names
    assert a.voxel_size == b.voxel_size and a.origin == b.origin


def test_npy_is_memory_mapped(images, tmp_path):
    np.save(tmp_path / "x.npy", images)
    st = open_stack(tmp_path / "x.npy")
    assert isinstance(st.data, np.memmap) and not st.data.flags.writeable
    _same(st, read_stack(tmp_path / "x.npy"))


def test_mrcs_is_memory_mapped(images, tmp_path):
    with mrcfile.new(tmp_path / "s.mrcs") as m:
        m.set_data(images)
        m.set_image_stack()
        m.voxel_size = 2.5
    st = open_stack(tmp_path / "s.mrcs")
    assert isinstance(st.data, np.memmap)
    _same(st, read_stack(tmp_path / "s.mrcs"))


def test_star_is_spilled_to_a_memory_map(images, tmp_path):
    write_particle_set(images, tmp_path / "ps", n_stacks=3, pixel_size=1.7)
    star = next((tmp_path / "ps").glob("*.star"))
    spill = tmp_path / "spill"
    spill.mkdir()
    st = open_stack(star, spill_dir=spill)
    assert isinstance(st.data, np.memmap) and list(spill.glob("*.npy"))
    _same(st, read_stack(star))
    _same(open_stack(star), read_stack(star))  # no spill directory: in memory


def test_other_inputs_fall_back_to_read_stack(images, tmp_path):
    np.save(tmp_path / "x64.npy", images.astype(np.float64))
    st = open_stack(tmp_path / "x64.npy")
    assert not isinstance(st.data, np.memmap)
    _same(st, read_stack(tmp_path / "x64.npy"))


@pytest.mark.parametrize(("value", "msg"), [(np.nan, "NaN or infinite"),
                                            (0.0, "all zero")])
def test_bad_items_are_named_as_read_stack_names_them(images, tmp_path, value, msg):
    bad = images.copy()
    bad[33] = value
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(InputError, match=f"bad.npy:33: .*{msg}"):
        open_stack(tmp_path / "bad.npy")
    with pytest.raises(InputError, match=f"bad.npy:33: .*{msg}"):
        read_stack(tmp_path / "bad.npy")
    assert open_stack(tmp_path / "bad.npy", densities=False).data.shape == bad.shape \
        if value == 0.0 else True
