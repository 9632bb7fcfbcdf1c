"""convkit.ndimage against scipy.ndimage (origin 0, cval 0) on random real inputs of rank 1 to 3."""

import numpy as np
import pytest

scipy_ndimage = pytest.importorskip("scipy.ndimage")

from convkit import ndimage  # noqa: E402

MODES = ["reflect", "mirror", "nearest", "wrap", "constant", "grid-wrap", "grid-mirror", "grid-constant"]


def fits(mode, input_shape, kernel_shape):
    """convkit's rule (documented in convkit.ndimage): pad k//2 <= D, and < D for 'mirror'."""
    for d, k in zip(input_shape, kernel_shape):
        p = k // 2
        if mode in ("reflect", "grid-mirror", "wrap", "grid-wrap") and p > d:
            return False
        if mode == "mirror" and p >= d:
            return False
    return True


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["convolve", "correlate"])
def test_matches_scipy(rng, ndim, mode, name):
    ours, theirs = getattr(ndimage, name), getattr(scipy_ndimage, name)
    checked = 0
    for _ in range(10):
        a = rng.standard_normal(tuple(int(v) for v in rng.integers(1, 9, ndim)))
        w = rng.standard_normal(tuple(int(v) for v in rng.integers(1, 6, ndim)))
        if not fits(mode, a.shape, w.shape):
            with pytest.raises(ValueError, match="convkit InvalidArgument"):
                ours(a, w, mode=mode)
            continue
        expected = theirs(a, w, mode=mode)
        got = ours(a, w, mode=mode)
        assert got.shape == a.shape
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
        checked += 1
    assert checked > 0


def test_default_mode_is_reflect_and_even_kernels_centre_like_scipy(rng):
    a = rng.standard_normal((7, 6))
    w = rng.standard_normal((2, 4))
    np.testing.assert_allclose(ndimage.correlate(a, w), scipy_ndimage.correlate(a, w), atol=1e-12)
    np.testing.assert_allclose(ndimage.convolve(a, w), scipy_ndimage.convolve(a, w), atol=1e-12)


def test_output_array_and_float32(rng):
    a = rng.standard_normal((5, 6)).astype(np.float32)
    w = rng.standard_normal((3, 3)).astype(np.float32)
    out = np.empty_like(a)
    got = ndimage.correlate(a, w, output=out, mode="nearest")
    assert got is out
    np.testing.assert_allclose(out, scipy_ndimage.correlate(a, w, mode="nearest"), rtol=1e-5, atol=1e-5)


def test_unsupported_arguments():
    a, w = np.ones((4, 4)), np.ones((3, 3))
    with pytest.raises(NotImplementedError, match="origin"):
        ndimage.correlate(a, w, origin=1)
    with pytest.raises(NotImplementedError, match="cval"):
        ndimage.convolve(a, w, mode="constant", cval=2.0)
    with pytest.raises(RuntimeError, match="boundary mode not supported"):
        ndimage.convolve(a, w, mode="symm")
    with pytest.raises(RuntimeError, match="incorrect shape"):
        ndimage.correlate(a, np.ones(3))
