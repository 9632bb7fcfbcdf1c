"""convkit.StreamingConv: pushes of random chunk sequences against SciPy's lfilter, NumPy's
convolve and convkit's own one-shot conv with the causal padding; the history, reset, the
errors; a GPU variant (marked gpu) against the host stream."""

import numpy as np
import pytest

import convkit
from helpers import gpu_frameworks


def chunks(rng, n, lengths=(1, 2, 3, 7, 16)):
    """Cut range(n) into consecutive chunk lengths drawn from `lengths` (ones, longer, and a final remainder)."""
    cuts = []
    while sum(cuts) < n:
        cuts.append(min(int(rng.choice(lengths)), n - sum(cuts)))
    return cuts


def push_all(s, x, cuts):
    """The outputs of pushing x [N, C, T] in chunks of the given lengths, concatenated along time."""
    ys, t = [], 0
    for L in cuts:
        ys.append(s.push(x[..., t:t + L]))
        t += L
    assert t == x.shape[-1]
    return np.concatenate(ys, axis=-1)


def small_ints(rng, shape, dtype, lo=-4, hi=5):
    return rng.integers(lo, hi, size=shape).astype(dtype)


def one_shot(x, w, bias=None, *, dilation=1, groups=1, mode="convolution", boundary="zeros"):
    """convkit's one-shot conv with the causal padding (dilation*(k-1), 0): what the pushes must equal."""
    h = dilation * (w.shape[-1] - 1)
    return convkit.conv(x, w, bias, padding=[(h, 0)], dilation=dilation, groups=groups, mode=mode,
                        boundary=boundary)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 2, 5, 9])
@pytest.mark.parametrize("seed", range(3))
def test_one_channel_equals_lfilter_and_np_convolve(dtype, k, seed):
    rng = np.random.default_rng([k, seed])
    x = small_ints(rng, 64, dtype)
    w = small_ints(rng, k, dtype)
    s = convkit.StreamingConv(w.reshape(1, 1, k))
    assert s.dtype == dtype and s.history_length == k - 1
    y = push_all(s, x.reshape(1, 1, -1), chunks(rng, x.size))
    assert y.dtype == dtype and y.shape == (1, 1, x.size)
    scipy_signal = pytest.importorskip("scipy.signal")
    np.testing.assert_array_equal(y[0, 0], scipy_signal.lfilter(w, [1], x))
    np.testing.assert_array_equal(y[0, 0], np.convolve(x, w)[:x.size])
    assert s.samples_pushed == x.size


def test_one_sample_chunks_equal_lfilter():
    rng = np.random.default_rng(7)
    x, w = small_ints(rng, 40, np.float64), small_ints(rng, 6, np.float64)
    s = convkit.StreamingConv(w.reshape(1, 1, -1))
    y = np.concatenate([s.push(x[t:t + 1].reshape(1, 1, 1))[0, 0] for t in range(x.size)])
    np.testing.assert_array_equal(y, np.convolve(x, w)[:x.size])


CASES = [
    # (N, C, K, k, groups, dilation, bias, mode)
    (1, 1, 1, 4, 1, 1, False, "convolution"),
    (2, 3, 4, 3, 1, 1, True, "convolution"),
    (1, 4, 6, 3, 2, 2, True, "correlation"),
    (3, 2, 2, 5, 2, 3, False, "correlation"),
    (2, 6, 3, 2, 3, 4, True, "convolution"),
    (1, 2, 5, 1, 1, 1, True, "correlation"),  # k = 1: no history at all
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "N{}C{}K{}k{}g{}d{}{}{}".format(*c[:6], "b" if c[6] else "",
                                                                                       c[7][:4]))
def test_channels_groups_dilation_bias_equal_the_one_shot_conv(dtype, case):
    N, C, K, k, groups, dilation, has_bias, mode = case
    rng = np.random.default_rng(sum(case[:6]))
    x = small_ints(rng, (N, C, 50), dtype)
    w = small_ints(rng, (K, C // groups, k), dtype)
    b = small_ints(rng, K, dtype) if has_bias else None
    s = convkit.StreamingConv(w, b, dilation=dilation, groups=groups, mode=mode, batch=N)
    assert (s.batch, s.channels, s.out_channels, s.history_length) == (N, C, K, dilation * (k - 1))
    for _ in range(3):  # three random chunkings of the same signal, each from the start
        s.reset()
        y = push_all(s, x, chunks(rng, x.shape[-1]))
        np.testing.assert_array_equal(y, one_shot(x, w, b, dilation=dilation, groups=groups, mode=mode))


def test_bit_identical_to_the_one_shot_reference_for_any_data(rng):
    # Host streams run the same arithmetic as the one-shot reference, not just a close one.
    x = rng.standard_normal((2, 4, 97))
    w = rng.standard_normal((6, 2, 7))
    b = rng.standard_normal(6)
    s = convkit.StreamingConv(w, b, dilation=2, groups=2, batch=2)
    np.testing.assert_array_equal(push_all(s, x, chunks(rng, 97)), one_shot(x, w, b, dilation=2, groups=2))


def test_mode_correlation_is_the_reversed_kernel():
    rng = np.random.default_rng(3)
    x = small_ints(rng, (1, 1, 30), np.float64)
    w = small_ints(rng, (1, 1, 4), np.float64)
    y_corr = push_all(convkit.StreamingConv(w, mode="correlation"), x, [5, 1, 24])
    y_conv = push_all(convkit.StreamingConv(w[..., ::-1]), x, [30])
    np.testing.assert_array_equal(y_corr, y_conv)


def test_empty_chunk_is_a_no_op():
    s = convkit.StreamingConv(np.ones((2, 1, 3)))
    s.push(np.array([[[1.0, 2.0, 3.0]]]))
    before = s.history
    y = s.push(np.empty((1, 1, 0)))
    assert y.shape == (1, 2, 0)
    np.testing.assert_array_equal(s.history, before)
    assert s.samples_pushed == 3


def test_history_is_the_last_samples_and_a_copy():
    rng = np.random.default_rng(11)
    x = small_ints(rng, (2, 3, 20), np.float32)
    s = convkit.StreamingConv(small_ints(rng, (1, 3, 4), np.float32), dilation=2, batch=2)
    assert s.history.shape == (2, 3, 6) and s.history.dtype == np.float32
    np.testing.assert_array_equal(s.history, 0)
    push_all(s, x, [3, 1, 16])
    h = s.history
    np.testing.assert_array_equal(h, x[..., -6:])
    s.push(x[..., :5])
    np.testing.assert_array_equal(h, x[..., -6:])  # unchanged by later pushes
    np.testing.assert_array_equal(s.history, np.concatenate([x[..., -1:], x[..., :5]], axis=-1))


def test_history_round_trip_continues_the_signal():
    rng = np.random.default_rng(5)
    x = small_ints(rng, (1, 2, 60), np.float64)
    w = small_ints(rng, (3, 2, 5), np.float64)
    b = small_ints(rng, 3, np.float64)
    whole = one_shot(x, w, b, dilation=3)
    s = convkit.StreamingConv(w, b, dilation=3)
    first = push_all(s, x[..., :25], chunks(rng, 25))
    # A new stream continued from the first one's history gives the rest of the signal.
    t = convkit.StreamingConv(w, b, dilation=3)
    t.set_history(s.history)
    assert t.samples_pushed == 0
    rest = push_all(t, x[..., 25:], chunks(rng, 35))
    np.testing.assert_array_equal(np.concatenate([first, rest], axis=-1), whole)
    # reset() goes back to the history set, not to zeros.
    t.reset()
    np.testing.assert_array_equal(push_all(t, x[..., 25:], [35]), whole[..., 25:])
    np.testing.assert_array_equal(t.history, x[..., -12:])


def test_first_sample_repeated_as_history_is_replicate_padding():
    rng = np.random.default_rng(9)
    x = small_ints(rng, (2, 1, 30), np.float64)
    w = small_ints(rng, (1, 1, 4), np.float64)
    s = convkit.StreamingConv(w, batch=2)
    s.set_history(np.repeat(x[..., :1], 3, axis=-1))
    np.testing.assert_array_equal(push_all(s, x, chunks(rng, 30)), one_shot(x, w, boundary="replicate"))


def test_reset_and_zero_history():
    rng = np.random.default_rng(13)
    x = small_ints(rng, (1, 1, 24), np.float64)
    w = small_ints(rng, (2, 1, 3), np.float64)
    s = convkit.StreamingConv(w)
    y = push_all(s, x, [24])
    s.reset()
    assert s.samples_pushed == 0
    np.testing.assert_array_equal(s.history, 0)
    np.testing.assert_array_equal(push_all(s, x, chunks(rng, 24)), y)
    s.set_history(np.array([[[7.0, -3.0]]]))
    s.push(x[..., :4])
    s.reset()
    np.testing.assert_array_equal(s.history, [[[7.0, -3.0]]])
    s.zero_history()
    np.testing.assert_array_equal(s.history, 0)
    s.push(x[..., :4])
    s.reset()  # back to zeros now: zero_history() forgot the history set
    np.testing.assert_array_equal(s.history, 0)
    np.testing.assert_array_equal(push_all(s, x, [24]), y)


def test_out_is_written_in_place():
    s = convkit.StreamingConv(np.array([[[1.0, 1.0]]]))
    out = np.full((1, 1, 3), np.nan)
    y = s.push(np.array([[[1.0, 2.0, 3.0]]]), out=out)
    assert y is out
    np.testing.assert_array_equal(out, [[[1.0, 3.0, 5.0]]])
    with pytest.raises(ValueError, match="C-contiguous"):
        s.push(np.ones((1, 1, 3)), out=np.empty((1, 1, 6))[..., ::2])


def test_weights_are_copied_and_converted_like_conv():
    w = np.array([[[1, 2]]])  # integers: a float64 stream, as conv computes them
    s = convkit.StreamingConv(w)
    assert s.dtype == np.float64 and s.algorithm == "auto" and s.algorithm_for(5) == "reference"
    assert s.device is None and s.stream is None
    w[...] = 100  # the stream keeps its own copy
    np.testing.assert_array_equal(s.push(np.array([[[1.0, 0.0, 0.0]]])), [[[1.0, 2.0, 0.0]]])
    assert convkit.StreamingConv(np.ones((1, 1, 2), np.float32)).dtype == np.float32
    assert "history_length=1" in repr(s)


def test_wrong_channel_count_is_a_value_error_naming_x():
    s = convkit.StreamingConv(np.ones((2, 3, 3)))
    with pytest.raises(ValueError, match=r"x shape = \[1, 2, 4\].*\[1, 3, L\]"):
        s.push(np.ones((1, 2, 4)))
    with pytest.raises(ValueError, match="x shape"):
        s.push(np.ones((2, 3, 4)))  # batch 1, two signals
    with pytest.raises(ValueError, match="x shape"):
        s.push(np.ones((3, 4)))


def test_wrong_dtype_is_a_value_error_naming_x():
    s = convkit.StreamingConv(np.ones((1, 1, 3), np.float32))
    with pytest.raises(ValueError, match="x dtype"):
        s.push(np.ones((1, 1, 4), np.float64))
    with pytest.raises(ValueError, match="x: dtype must be float32 or float64"):
        s.push(np.ones((1, 1, 4), np.int32))
    with pytest.raises(ValueError, match="history dtype"):
        s.set_history(np.ones((1, 1, 2), np.float64))


def test_a_failed_call_leaves_the_history():
    s = convkit.StreamingConv(np.ones((1, 1, 3)))
    s.push(np.array([[[1.0, 2.0, 3.0]]]))
    for bad in (np.ones((1, 2, 2)), np.ones((1, 1, 2), np.float32)):
        with pytest.raises(ValueError):
            s.push(bad)
    with pytest.raises(ValueError, match="history shape"):
        s.set_history(np.ones((1, 1, 3)))
    np.testing.assert_array_equal(s.history, [[[2.0, 3.0]]])
    assert s.samples_pushed == 3


def test_constructor_errors_name_the_parameter():
    with pytest.raises(ValueError, match="w shape"):
        convkit.StreamingConv(np.ones((2, 3)))
    with pytest.raises(ValueError, match="bias shape"):
        convkit.StreamingConv(np.ones((2, 1, 3)), np.ones(3))
    with pytest.raises(ValueError, match="batch = 0"):
        convkit.StreamingConv(np.ones((1, 1, 3)), batch=0)
    with pytest.raises(ValueError, match="dilation"):
        convkit.StreamingConv(np.ones((1, 1, 3)), dilation=0)
    with pytest.raises(ValueError, match="groups"):
        convkit.StreamingConv(np.ones((4, 1, 3)), groups=3)
    with pytest.raises(ValueError, match="algorithm = Direct with host weights"):
        convkit.StreamingConv(np.ones((1, 1, 3)), algorithm="direct")
    with pytest.raises(ValueError, match="algorithm="):
        convkit.StreamingConv(np.ones((1, 1, 3)), algorithm="winograd")
    with pytest.raises(ValueError, match="mode="):
        convkit.StreamingConv(np.ones((1, 1, 3)), mode="conv")
    with pytest.raises(TypeError):
        convkit.StreamingConv(np.ones((1, 1, 3)), dilation=(1, 2))


def test_cpu_torch_tensors_come_back_as_tensors():
    torch = pytest.importorskip("torch")
    w = torch.tensor([[[1.0, -1.0]]])
    s = convkit.StreamingConv(w)
    y = s.push(torch.tensor([[[3.0, 5.0, 4.0]]]))
    assert isinstance(y, torch.Tensor)
    assert y.tolist() == [[[3.0, 2.0, -1.0]]]
    assert isinstance(s.history, torch.Tensor) and s.history.tolist() == [[[4.0]]]


FRAMEWORKS = gpu_frameworks()


@pytest.fixture(params=FRAMEWORKS, ids=[f[0] for f in FRAMEWORKS])
def fw(request):
    return request.param


def to_device(fw, a):
    name, mod = fw
    return mod.asarray(a) if name == "cupy" else mod.from_numpy(np.ascontiguousarray(a)).cuda()


def to_host(fw, a):
    name, _ = fw
    return a.get() if name == "cupy" else a.cpu().numpy()


def synchronize(fw):
    name, mod = fw
    (mod.cuda.Stream.null.synchronize() if name == "cupy" else mod.cuda.synchronize())


def other_stream(fw):
    """A context manager making a new stream of the framework current."""
    name, mod = fw
    return mod.cuda.Stream() if name == "cupy" else mod.cuda.stream(mod.cuda.Stream())


needs_gpu = pytest.mark.skipif(not FRAMEWORKS or not convkit._convkit.device_available(),
                               reason="needs a CUDA device and CuPy or PyTorch")


@pytest.mark.parametrize("algorithm", ["auto", "direct", "im2col_gemm", "sparse_toeplitz"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES[1:4], ids=["bias", "groups-dil2", "dil3"])
@pytest.mark.gpu
@needs_gpu
def test_device_stream_equals_the_host_stream(fw, algorithm, dtype, case):
    N, C, K, k, groups, dilation, has_bias, mode = case
    rng = np.random.default_rng(sum(case[:6]))
    x = small_ints(rng, (N, C, 40), dtype)
    w = small_ints(rng, (K, C // groups, k), dtype)
    b = small_ints(rng, K, dtype) if has_bias else None
    kw = dict(dilation=dilation, groups=groups, mode=mode, batch=N)
    host = convkit.StreamingConv(w, b, **kw)
    dev = convkit.StreamingConv(to_device(fw, w), None if b is None else to_device(fw, b), algorithm=algorithm, **kw)
    assert dev.device == 0 and dev.dtype == dtype and dev.algorithm == algorithm
    cuts = chunks(rng, 40)
    ys, t = [], 0
    for L in cuts:
        y = dev.push(to_device(fw, x[..., t:t + L]))
        assert type(y) is type(to_device(fw, x[..., :1]))  # the caller's array type, on its device
        ys.append(y)
        t += L
    h = dev.history
    synchronize(fw)
    y = np.concatenate([to_host(fw, a) for a in ys], axis=-1)
    expected = push_all(host, x, cuts)
    if algorithm == "auto":  # Auto may choose the FFT, exact only to rounding
        np.testing.assert_allclose(y, expected, atol=1e-3 if dtype == np.float32 else 1e-9)
    else:  # small integers: the direct sums are exact
        np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(to_host(fw, h), host.history)
    dev.reset()
    dev.set_history(h)
    synchronize(fw)
    np.testing.assert_array_equal(to_host(fw, dev.history), host.history)


@pytest.mark.gpu
@needs_gpu
def test_device_stream_location_and_stream_errors(fw):
    w = np.ones((1, 1, 3), np.float32)
    dev = convkit.StreamingConv(to_device(fw, w))
    with pytest.raises(ValueError, match="x is a host view"):
        dev.push(np.ones((1, 1, 4), np.float32))
    with pytest.raises(ValueError, match="x dtype"):
        dev.push(to_device(fw, np.ones((1, 1, 4), np.float64)))
    with pytest.raises(ValueError, match="x shape"):
        dev.push(to_device(fw, np.ones((1, 2, 4), np.float32)))
    with pytest.raises(ValueError, match="algorithm = Reference with device weights"):
        convkit.StreamingConv(to_device(fw, w), algorithm="reference")
    host = convkit.StreamingConv(w)
    with pytest.raises(ValueError, match="x is a device view"):
        host.push(to_device(fw, np.ones((1, 1, 4), np.float32)))
    with other_stream(fw):
        with pytest.raises(ValueError, match="stream"):
            dev.push(to_device(fw, np.ones((1, 1, 4), np.float32)))
    y = dev.push(to_device(fw, np.ones((1, 1, 4), np.float32)))
    synchronize(fw)
    np.testing.assert_array_equal(to_host(fw, y), [[[1.0, 2.0, 3.0, 3.0]]])
