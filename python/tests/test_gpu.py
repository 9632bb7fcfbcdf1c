"""CUDA arrays (CuPy, PyTorch): computed on the device, zero-copy, on the caller's stream,
every GPU algorithm against the CPU reference. Marked gpu; skipped without a device."""

import numpy as np
import pytest

import convkit
from helpers import gpu_frameworks

FRAMEWORKS = gpu_frameworks()
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not FRAMEWORKS or not convkit._convkit.device_available(),
                                 reason="needs a CUDA device and CuPy or PyTorch")]
ALGORITHMS = ["auto", "direct", "im2col_gemm", "sparse_toeplitz"]


def to_device(fw, a):
    name, mod = fw
    return mod.asarray(a) if name == "cupy" else mod.from_numpy(np.ascontiguousarray(a)).cuda()


def to_host(fw, a):
    name, _ = fw
    return a.get() if name == "cupy" else a.cpu().numpy()


def data_ptr(fw, a):
    name, _ = fw
    return a.data.ptr if name == "cupy" else a.data_ptr()


def synchronize(fw):
    name, mod = fw
    (mod.cuda.Stream.null.synchronize() if name == "cupy" else mod.cuda.synchronize())


@pytest.fixture(params=FRAMEWORKS, ids=[f[0] for f in FRAMEWORKS])
def fw(request):
    return request.param


CASES = [
    dict(x=(2, 3, 17), w=(4, 3, 5), kw=dict(padding="same")),
    dict(x=(1, 4, 12, 11), w=(4, 2, 3, 3), kw=dict(stride=2, padding=1, groups=2, boundary="reflect")),
    dict(x=(2, 2, 9, 8), w=(3, 2, 2, 3), kw=dict(dilation=(2, 1), padding=[(1, 2), 1], mode="convolution",
                                                   boundary="circular")),
    dict(x=(1, 2, 5, 6, 4), w=(2, 2, 3, 3, 2), kw=dict(padding=1, boundary="symmetric")),
]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_every_algorithm_matches_the_reference(fw, algorithm, dtype, case, rng):
    c = CASES[case]
    x = rng.standard_normal(c["x"]).astype(dtype)
    w = rng.standard_normal(c["w"]).astype(dtype)
    b = rng.standard_normal(c["w"][0]).astype(dtype)
    ref = convkit.conv(x, w, b, **c["kw"])
    y = convkit.conv(to_device(fw, x), to_device(fw, w), to_device(fw, b), algorithm=algorithm, **c["kw"])
    assert type(y) is type(to_device(fw, x))
    synchronize(fw)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    scale = convkit.conv(np.abs(x), np.abs(w), np.abs(b), **c["kw"])
    assert np.all(np.abs(to_host(fw, y) - ref) <= tol * (scale + 1))


def test_out_is_zero_copy(fw, rng):
    name, mod = fw
    x = to_device(fw, rng.standard_normal((1, 1, 64)))
    w = to_device(fw, rng.standard_normal((1, 1, 5)))
    out = to_device(fw, np.full((1, 1, 60), np.nan))
    ptr = data_ptr(fw, out)
    y = convkit.conv(x, w, out=out)
    assert y is out and data_ptr(fw, y) == ptr
    synchronize(fw)
    np.testing.assert_allclose(to_host(fw, out), convkit.conv(to_host(fw, x), to_host(fw, w)), atol=1e-12)


def test_non_contiguous_out_is_refused_inputs_are_copied(fw, rng):
    x = to_device(fw, rng.standard_normal((1, 1, 10, 16)))[..., ::2]
    w = to_device(fw, rng.standard_normal((1, 1, 3, 3)))
    y = convkit.conv(x, w)
    synchronize(fw)
    np.testing.assert_allclose(to_host(fw, y), convkit.conv(to_host(fw, x), to_host(fw, w)), atol=1e-12)
    out = to_device(fw, np.zeros((1, 1, 8, 12)))[..., ::2]
    with pytest.raises(ValueError, match="C-contiguous"):
        convkit.conv(x, w, out=out)


def test_runs_on_the_current_and_on_a_given_stream(fw, rng):
    name, mod = fw
    xh, wh = rng.standard_normal((1, 2, 4096)), rng.standard_normal((3, 2, 31))
    ref = convkit.conv(xh, wh)
    x, w = to_device(fw, xh), to_device(fw, wh)
    s = mod.cuda.Stream()
    with (s if name == "cupy" else mod.cuda.stream(s)):
        y = convkit.conv(x, w)  # stream=None: the framework's current stream, s
    s.synchronize()
    np.testing.assert_allclose(to_host(fw, y), ref, atol=1e-10)
    s2 = mod.cuda.Stream()
    y2 = convkit.conv(x, w, stream=s2)
    s2.synchronize()
    np.testing.assert_allclose(to_host(fw, y2), ref, atol=1e-10)
    handle = s2.ptr if name == "cupy" else s2.cuda_stream
    y3 = convkit.conv(x, w, stream=handle)
    s2.synchronize()
    np.testing.assert_allclose(to_host(fw, y3), ref, atol=1e-10)


def test_signal_and_ndimage_accept_device_arrays(fw, rng):
    from convkit import ndimage, signal
    a, b = rng.standard_normal((9, 8)), rng.standard_normal((3, 2))
    y = signal.correlate2d(to_device(fw, a), to_device(fw, b), mode="same", boundary="symm")
    z = ndimage.convolve(to_device(fw, a), to_device(fw, b), mode="mirror")
    synchronize(fw)
    np.testing.assert_allclose(to_host(fw, y), signal.correlate2d(a, b, mode="same", boundary="symm"), atol=1e-12)
    np.testing.assert_allclose(to_host(fw, z), ndimage.convolve(a, b, mode="mirror"), atol=1e-12)


def test_mixed_dtypes_on_the_device_are_refused(fw, rng):
    x = to_device(fw, rng.standard_normal((1, 1, 8)).astype(np.float32))
    w = to_device(fw, rng.standard_normal((1, 1, 3)))
    with pytest.raises(ValueError, match="convkit InvalidArgument"):
        convkit.conv(x, w)


def test_choose_algorithm_explains(fw):
    text = str(convkit.choose_algorithm((1, 1, 1 << 16), (1, 1, 9), dtype=np.float32))
    assert "chose" in text


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_gradients_and_transpose_on_device_equal_the_reference(fw, algorithm):
    rng = np.random.default_rng(14)
    kw = dict(stride=2, padding=1, dilation=1, groups=2)
    x = rng.integers(-4, 5, size=(2, 4, 11)).astype(np.float32)
    w = rng.integers(-4, 5, size=(6, 2, 3)).astype(np.float32)
    dy = rng.integers(-4, 5, size=convkit.output_shape(x, w, **kw)).astype(np.float32)
    b = rng.integers(-4, 5, size=2).astype(np.float32)
    want_dx = convkit.conv_backward_data(x.shape, w, dy, **kw)
    want_dw = convkit.conv_backward_filter(x, w.shape, dy, **kw)
    want_db = convkit.conv_backward_bias(dy)
    want_t = convkit.conv_transpose(dy[:, :2], w[:2], b, 2, 1, 1)
    gx, gw, gdy, gb = (to_device(fw, a) for a in (x, w, dy, b))
    ok = convkit.supports(x.shape, w.shape, algorithm=algorithm, dtype="float32", direction="backward_data", **kw)[0]
    if ok:
        np.testing.assert_array_equal(to_host(fw, convkit.conv_backward_data(x.shape, gw, gdy, algorithm=algorithm,
                                                                             **kw)), want_dx)
    ok = convkit.supports(x.shape, w.shape, algorithm=algorithm, dtype="float32", direction="backward_filter", **kw)[0]
    if ok:
        np.testing.assert_array_equal(to_host(fw, convkit.conv_backward_filter(gx, w.shape, gdy, algorithm=algorithm,
                                                                               **kw)), want_dw)
    np.testing.assert_array_equal(to_host(fw, convkit.conv_backward_bias(gdy)), want_db)
    got_t = convkit.conv_transpose(to_device(fw, np.ascontiguousarray(dy[:, :2])), to_device(fw, w[:2]), gb, 2, 1, 1,
                                   algorithm=algorithm)
    synchronize(fw)
    np.testing.assert_array_equal(to_host(fw, got_t), want_t)


# SciPy's own tolerances for its FFT results (test_signal.py's FFT_TOL): float64
# rtol = atol = 1e-10, float32 rtol 1e-4, atol 1e-6.
FFT_TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=1e-4, atol=1e-6)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_signal_fft_functions_on_device_arrays_match_scipy(fw, dtype):
    import scipy.signal as scipy_signal
    from convkit import signal
    rng = np.random.default_rng(31)
    cases = [((100,), (100,)), ((5000,), (257,)), ((40, 33), (9, 7)), ((12, 10, 9), (3, 4, 2))]
    for s1, s2 in cases:
        a, b = rng.standard_normal(s1).astype(dtype), rng.standard_normal(s2).astype(dtype)
        da, db = to_device(fw, a), to_device(fw, b)
        for mode in ("full", "valid", "same"):
            for got, want in [(signal.fftconvolve(da, db, mode), scipy_signal.fftconvolve(a, b, mode)),
                              (signal.oaconvolve(da, db, mode), scipy_signal.oaconvolve(a, b, mode)),
                              (signal.convolve(da, db, mode, method="fft"), scipy_signal.fftconvolve(a, b, mode)),
                              (signal.correlate(da, db, mode, method="fft"),
                               scipy_signal.correlate(a, b, mode, method="fft"))]:
                assert type(got) is type(da)
                synchronize(fw)
                host = to_host(fw, got)
                assert host.dtype == dtype and host.shape == want.shape
                np.testing.assert_allclose(host, want, **FFT_TOL[dtype])


def test_conv_fft_on_device_and_exact_contexts(fw):
    rng = np.random.default_rng(32)
    x = rng.integers(-4, 5, size=(2, 3, 1 << 16)).astype(np.float64)
    w = rng.integers(-4, 5, size=(4, 3, 129)).astype(np.float64)
    b = rng.integers(-4, 5, size=4).astype(np.float64)
    ref = convkit.conv(x, w, b, padding="same", boundary="reflect")
    y = convkit.conv(to_device(fw, x), to_device(fw, w), to_device(fw, b), padding="same", boundary="reflect",
                     algorithm="fft")
    synchronize(fw)
    # Small integers: the FFT's result rounds to the exact answer.
    np.testing.assert_array_equal(np.rint(to_host(fw, y)), ref)
    # An exact context (the one calls on this stream use) keeps Auto away from Fft.
    name, mod = fw
    s = mod.cuda.Stream()
    ctx = convkit.Context(stream=s)
    ctx.set_exact(True)
    try:
        assert convkit.Context(stream=s).exact()
        choice = convkit.choose_algorithm((1, 1, 1 << 20), (1, 1, 257), dtype=np.float32, stream=s)
        assert choice.chosen != convkit._convkit.Algorithm.Fft
        fft = [c for c in choice.candidates if c.algorithm == convkit._convkit.Algorithm.Fft]
        assert len(fft) == 1 and not fft[0].considered and "exact" in fft[0].excluded_because, str(choice)
        got = convkit.conv(to_device(fw, x), to_device(fw, w), to_device(fw, b), padding="same",
                           boundary="reflect", stream=s)
        s.synchronize()
        np.testing.assert_array_equal(to_host(fw, got), ref)
    finally:
        ctx.set_exact(False)  # a later stream may get the same handle
