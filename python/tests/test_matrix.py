"""convkit.toeplitz_matrix and write_matrix_market against scipy.linalg.convolution_matrix,
scipy.io.mmread and conv itself."""

import numpy as np
import pytest

sparse = pytest.importorskip("scipy.sparse")
linalg = pytest.importorskip("scipy.linalg")
scipy_io = pytest.importorskip("scipy.io")

import convkit  # noqa: E402


@pytest.mark.parametrize("n, k", [(5, 3), (8, 1), (7, 7), (12, 4)])
@pytest.mark.parametrize("mode", ["valid", "full"])
def test_one_channel_1d_equals_scipy_convolution_matrix(rng, n, k, mode):
    w = rng.standard_normal(k)
    T = convkit.toeplitz_matrix((1, 1, n), w.reshape(1, 1, k), mode="convolution", padding=mode)
    assert isinstance(T, sparse.csr_array)
    np.testing.assert_array_equal(T.toarray(), linalg.convolution_matrix(w, n, mode))


def test_classic_example_prints_the_toeplitz_rows():
    T = convkit.toeplitz_matrix((1, 1, 5), np.array([[[1.0, 2.0, 3.0]]]))
    assert T.shape == (3, 5) and T.nnz == 9
    np.testing.assert_array_equal(T @ np.arange(1.0, 6.0), [14.0, 20.0, 26.0])


@pytest.mark.parametrize("boundary", ["zeros", "circular", "reflect", "replicate", "symmetric"])
def test_matrix_times_x_is_conv_for_every_boundary(rng, boundary):
    x = rng.standard_normal((1, 2, 5, 6))
    w = rng.standard_normal((3, 2, 3, 2))
    kw = dict(padding=[(1, 1), (1, 0)], stride=(1, 2), boundary=boundary, mode="convolution")
    T = convkit.toeplitz_matrix(x.shape, w, **kw)
    np.testing.assert_allclose(T @ x.ravel(), convkit.conv(x, w, **kw).ravel(), rtol=1e-12, atol=1e-12)


def test_circular_2d_is_doubly_block_circulant(rng):
    w = rng.standard_normal((1, 1, 3, 3))
    T = convkit.toeplitz_matrix((1, 1, 4, 4), w, padding=1, boundary="circular").toarray()
    # every block row is the previous one rotated by one block, every block circulant
    blocks = T.reshape(4, 4, 4, 4).transpose(0, 2, 1, 3)
    for i in range(4):
        for j in range(4):
            np.testing.assert_array_equal(blocks[i, j], blocks[(i + 1) % 4, (j + 1) % 4])
            B = blocks[i, j]
            np.testing.assert_array_equal(B, np.roll(np.roll(B, 1, axis=0), 1, axis=1))


def test_float32_weights_give_float32_values():
    T = convkit.toeplitz_matrix((1, 1, 6), np.ones((1, 1, 2), np.float32))
    assert T.dtype == np.float32


def test_write_matrix_market_reads_back_in_scipy(rng, tmp_path):
    w = rng.standard_normal((2, 1, 3))
    path = tmp_path / "t.mtx"
    convkit.write_matrix_market(path, (1, 1, 7), w, padding="same", boundary="reflect")
    back = scipy_io.mmread(str(path))
    T = convkit.toeplitz_matrix((1, 1, 7), w, padding="same", boundary="reflect")
    np.testing.assert_array_equal(back.toarray(), T.toarray())


def test_bad_problems_and_arguments():
    with pytest.raises(ValueError, match="convkit InvalidArgument"):
        convkit.toeplitz_matrix((1, 1, 2), np.ones((1, 1, 5)))
    with pytest.raises(TypeError, match="unexpected keyword"):
        convkit.toeplitz_matrix((1, 1, 8), np.ones((1, 1, 3)), algorithm="direct")
    with pytest.raises(NotImplementedError, match="bytes"):
        convkit.toeplitz_matrix((1, 4096, 4096, 4096), np.ones((64, 4096, 3, 3)))
