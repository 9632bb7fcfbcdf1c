"""convkit.signal against scipy.signal on random real inputs of rank 1 to 3."""

import numpy as np
import pytest

scipy_signal = pytest.importorskip("scipy.signal")

from convkit import signal  # noqa: E402

MODES = ["full", "valid", "same"]


def pairs(rng, ndim, count):
    for _ in range(count):
        s1 = tuple(int(v) for v in rng.integers(1, 9, ndim))
        s2 = tuple(int(v) for v in rng.integers(1, 6, ndim))
        yield rng.standard_normal(s1), rng.standard_normal(s2)


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["convolve", "correlate"])
def test_nd_matches_scipy(rng, ndim, mode, name):
    ours, theirs = getattr(signal, name), getattr(scipy_signal, name)
    checked = 0
    for a, b in pairs(rng, ndim, 12):
        try:
            expected = theirs(a, b, mode=mode, method="direct")
        except ValueError as e:  # 'valid' with neither input the larger: the same error
            with pytest.raises(ValueError, match="at least as large"):
                ours(a, b, mode=mode)
            assert "at least as large" in str(e)
            continue
        got = ours(a, b, mode=mode)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ours(a, b, mode=mode, method="direct"), expected, rtol=1e-12, atol=1e-12)
        checked += 1
    assert checked > 0


def test_correlate_full_is_in_reversed_lag_order():
    # scipy's doc example shape: z[k] = sum_l a[l] b[l - k + N - 1]
    a, b = np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5])
    np.testing.assert_allclose(signal.correlate(a, b), scipy_signal.correlate(a, b))
    np.testing.assert_allclose(signal.correlate(a, b), signal.convolve(a, b[::-1]))


def test_float32_and_lists(rng):
    a = rng.standard_normal(20).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    got = signal.convolve(a, b, mode="same")
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, scipy_signal.convolve(a, b, mode="same"), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(signal.convolve([1.0, 2.0], [3.0, 4.0]), scipy_signal.convolve([1.0, 2.0], [3.0, 4.0]))


def test_bad_flags():
    with pytest.raises(ValueError, match="method"):
        signal.correlate([1.0, 2.0], [1.0], method="winograd")
    with pytest.raises(ValueError, match="mode"):
        signal.convolve([1.0, 2.0], [1.0], mode="circular")
    with pytest.raises(ValueError, match="dimensionality"):
        signal.convolve(np.ones(3), np.ones((2, 2)))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
@pytest.mark.parametrize("name", ["convolve2d", "correlate2d"])
def test_2d_matches_scipy(rng, mode, boundary, name):
    ours, theirs = getattr(signal, name), getattr(scipy_signal, name)
    checked = refused = 0
    for a, b in pairs(rng, 2, 25):
        try:
            expected = theirs(a, b, mode=mode, boundary=boundary)
        except ValueError:
            continue
        pad_needed = [k - 1 if mode == "full" else (k - 1) - (k - 1) // 2 if mode == "same" else 0
                      for k in b.shape]
        if boundary != "fill" and mode != "valid" and any(p > d for p, d in zip(pad_needed, a.shape)):
            # convkit's documented rule: wrap / symm need each pad <= D (SciPy extends further)
            with pytest.raises(ValueError, match=r"must be <= D"):
                ours(a, b, mode=mode, boundary=boundary)
            refused += 1
            continue
        got = ours(a, b, mode=mode, boundary=boundary)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
        checked += 1
    assert checked > 0


def test_2d_boundary_aliases_and_fillvalue():
    a = np.arange(12.0).reshape(3, 4)
    b = np.array([[1.0, 2.0], [3.0, 4.0]])
    for ours, theirs in [("circular", "wrap"), ("symmetric", "symm"), ("pad", "fill")]:
        np.testing.assert_allclose(signal.convolve2d(a, b, "same", ours), scipy_signal.convolve2d(a, b, "same", theirs))
    with pytest.raises(NotImplementedError, match="fillvalue"):
        signal.convolve2d(a, b, fillvalue=1.0)
    with pytest.raises(ValueError, match="boundary"):
        signal.convolve2d(a, b, boundary="reflect")
    with pytest.raises(ValueError, match="2-D"):
        signal.correlate2d(np.ones(3), np.ones(2))


# SciPy's own tolerances for its FFT results: float64 as in
# TestFFTConvolve.test_random_data_multidim_axes (rtol 1e-10, atol 1e-10),
# float32 as in TestConvolve.test_convolve_method (rtol 1e-4, atol 1e-6).
FFT_TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=1e-4, atol=1e-6)}


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["fftconvolve", "oaconvolve"])
def test_fft_functions_match_scipy(rng, ndim, mode, name):
    ours, theirs = getattr(signal, name), getattr(scipy_signal, name)
    checked = 0
    for a, b in pairs(rng, ndim, 12):
        try:
            expected = theirs(a, b, mode=mode)
        except ValueError as e:
            with pytest.raises(ValueError, match="at least as large"):
                ours(a, b, mode=mode)
            assert "at least as large" in str(e)
            continue
        got = ours(a, b, mode=mode)
        assert got.shape == expected.shape and got.dtype == np.float64
        np.testing.assert_allclose(got, expected, **FFT_TOL[np.float64])
        # NumPy input runs the reference whatever the method: the exact result,
        # bit for bit, except where 'valid' broadcasts a size-1 axis (the FFT
        # functions' own rule: another padding, maybe the inputs swapped).
        if not (mode == "valid" and 1 in a.shape + b.shape):
            np.testing.assert_array_equal(got, signal.convolve(a, b, mode=mode, method="direct"))
        checked += 1
    assert checked > 0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["convolve", "correlate"])
def test_method_fft_matches_scipy_fft(rng, mode, name):
    ours, theirs = getattr(signal, name), getattr(scipy_signal, name)
    for a, b in pairs(rng, 2, 8):
        if mode == "valid" and not (all(p >= q for p, q in zip(a.shape, b.shape))
                                    or all(q >= p for p, q in zip(a.shape, b.shape))):
            continue
        got = ours(a, b, mode=mode, method="fft")
        np.testing.assert_allclose(got, theirs(a, b, mode=mode, method="fft"), **FFT_TOL[np.float64])
        np.testing.assert_array_equal(got, ours(a, b, mode=mode, method="auto"))


def test_long_signal_against_scipy_overlap_add(rng):
    a, b = rng.standard_normal(100_003), rng.standard_normal(257)
    for mode in MODES:
        np.testing.assert_allclose(signal.oaconvolve(a, b, mode), scipy_signal.oaconvolve(a, b, mode),
                                   **FFT_TOL[np.float64])
        np.testing.assert_allclose(signal.fftconvolve(b, a, mode), scipy_signal.fftconvolve(b, a, mode),
                                   **FFT_TOL[np.float64])


def test_fft_functions_float32_and_lists(rng):
    a = rng.standard_normal(100).astype(np.float32)
    b = rng.standard_normal(100).astype(np.float32)
    for mode in MODES:
        got = signal.fftconvolve(a, b, mode)
        assert got.dtype == np.float32
        # The reference's float64 sum rounded once to float32 (SciPy's float32
        # FFT is further off): within one float32 rounding of SciPy's float64 FFT.
        np.testing.assert_allclose(got, scipy_signal.fftconvolve(a.astype(np.float64), b.astype(np.float64), mode),
                                   rtol=2.0 ** -23, **{"atol": FFT_TOL[np.float64]["atol"]})
    np.testing.assert_array_equal(signal.oaconvolve([1.0, 2.0, 3.0], [1.0, 1.0]), [1.0, 3.0, 5.0, 3.0])
    assert signal.fftconvolve(np.array([]), np.array([1.0])).size == 0


def test_fft_functions_valid_mode_broadcasts_size_one_axes_as_scipy():
    a, b = np.arange(1.0, 6.0).reshape(1, 5), np.arange(1.0, 7.0).reshape(3, 2)
    with pytest.raises(ValueError, match="at least as large"):
        signal.convolve(a, b, mode="valid")
    for name in ("fftconvolve", "oaconvolve"):
        for x, y in [(a, b), (b, a), (a.reshape(1, 5, 1), b.reshape(3, 2, 1)), (np.ones(1), np.arange(4.0))]:
            want = getattr(scipy_signal, name)(x, y, "valid")
            got = getattr(signal, name)(x, y, "valid")
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, **FFT_TOL[np.float64])


def test_fft_functions_take_scipys_arguments():
    import inspect
    for name in ("fftconvolve", "oaconvolve"):
        ours = inspect.signature(getattr(signal, name)).parameters
        theirs = inspect.signature(getattr(scipy_signal, name)).parameters
        assert [(p.name, p.default) for p in ours.values()] == [(p.name, p.default) for p in theirs.values()]
        fn = getattr(signal, name)
        np.testing.assert_array_equal(fn([1.0, 2.0], [3.0], axes=None), [3.0, 6.0])
        for axes in (0, [0], -1, (0, 1)):
            with pytest.raises(NotImplementedError, match=r"axes="):
                fn(np.ones((3, 3)), np.ones((2, 2)), axes=axes)
    with pytest.raises(ValueError, match="mode"):
        signal.fftconvolve([1.0, 2.0], [1.0], mode="circular")
    with pytest.raises(ValueError, match="dimensionality"):
        signal.oaconvolve(np.ones(3), np.ones((2, 2)))
