"""kb/npyfile.py writes what np.save writes, byte for byte, in small writes."""
from __future__ import annotations

import io

import numpy as np
import pytest

from kb.npyfile import CHUNK, save_array, write_array

ARRAYS = [
    np.arange(300_001, dtype=np.int32),
    np.random.default_rng(0).standard_normal((1000, 384)).astype(np.float32),
    np.random.default_rng(1).standard_normal((70, 384)).astype(np.float16),
    np.zeros(0, dtype=np.int64),
    np.full(5, 7, dtype=np.uint8),
    np.arange(40, dtype=np.uint16).reshape(8, 5).T,  # Fortran order, kept as np.save keeps it
    np.arange(60, dtype=np.float32).reshape(6, 10)[:, ::3],  # neither: written in C order
]


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: f"{a.dtype}{a.shape}")
def test_same_bytes_as_np_save_and_loads_memory_mapped(tmp_path, array):
    ref = io.BytesIO()
    np.save(ref, array)
    save_array(tmp_path / "a.npy", array)
    assert (tmp_path / "a.npy").read_bytes() == ref.getvalue()
    back = np.load(tmp_path / "a.npy", mmap_mode="r")
    np.testing.assert_array_equal(back, array)
    assert back.dtype == array.dtype and back.shape == array.shape


def test_no_write_is_larger_than_the_chunk():
    class Recording(io.BytesIO):
        sizes: list[int] = []

        def write(self, b):
            self.sizes.append(len(b))
            return super().write(b)

    f = Recording()
    write_array(f, np.arange(1_000_000, dtype=np.float32))
    assert max(f.sizes) <= CHUNK and sum(f.sizes) == len(f.getvalue()) > 4_000_000


def test_half_copy_is_what_np_save_writes_for_the_float16_vectors(tmp_path):
    from kb.version.vectors import HALF_SUFFIX, load_rescoring, write_half_copy

    vectors = np.random.default_rng(3).standard_normal((250_001, 8)).astype(np.float32)  # 3 chunks of rows
    assert write_half_copy(tmp_path, "v", vectors, half_from=1000)
    ref = io.BytesIO()
    np.save(ref, vectors.astype(np.float16))
    assert (tmp_path / f"v{HALF_SUFFIX}").read_bytes() == ref.getvalue()
    assert load_rescoring(tmp_path, "v").dtype == np.float16
    assert not write_half_copy(tmp_path, "w", vectors[:10], half_from=1000)
