"""convkit.conv on NumPy arrays (the CPU reference) against the tests' own oracle over random
specs, the argument conventions, out=, dtypes, and the queries (output_shape, supports,
workspace_bytes, choose_algorithm, info)."""

import io
import itertools

import numpy as np
import pytest

import convkit
from convkit import _convkit as _ck
from helpers import oracle

BOUNDARIES = ["zeros", "circular", "reflect", "replicate", "symmetric"]


def random_problem(rng, d, boundary):
    groups = int(rng.choice([1, 1, 2]))
    Cg, Kg, N = int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
    C, K = Cg * groups, Kg * groups
    D = [int(rng.integers(3, 9)) for _ in range(d)]
    k = [int(rng.integers(1, 4)) for _ in range(d)]
    dil = [int(rng.integers(1, 3)) for _ in range(d)]
    stride = [int(rng.integers(1, 3)) for _ in range(d)]
    limit = {"circular": 0, "symmetric": 0, "reflect": -1}.get(boundary)
    pads = []
    for i in range(d):
        hi_max = D[i] + limit if limit is not None else 3
        pads.append((int(rng.integers(0, min(3, hi_max) + 1)), int(rng.integers(0, min(3, hi_max) + 1))))
    for i in range(d):  # the output must not be empty
        need = dil[i] * (k[i] - 1) + 1 - (D[i] + pads[i][0] + pads[i][1])
        if need > 0:
            dil[i] = 1
            k[i] = min(k[i], D[i])
    x = rng.standard_normal((N, C, *D))
    w = rng.standard_normal((K, Cg, *k))
    return x, w, groups, stride, dil, pads


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", ["correlation", "convolution"])
def test_random_specs_match_the_definition(rng, d, boundary, mode):
    for _ in range(4 if d < 3 else 2):
        x, w, groups, stride, dil, pads = random_problem(rng, d, boundary)
        bias = rng.standard_normal(w.shape[0]) if rng.random() < 0.5 else None
        y = convkit.conv(x, w, bias, stride=stride, padding=pads, dilation=dil, groups=groups, mode=mode,
                         boundary=boundary)
        ref = oracle(x, w, bias, stride=stride, pads=pads, dilation=dil, groups=groups, mode=mode,
                     boundary=boundary)
        np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("mode", ["correlation", "convolution"])
def test_named_paddings(rng, k, mode):
    x = rng.standard_normal((1, 1, 9))
    w = rng.standard_normal((1, 1, k))
    total = k - 1
    lo = total // 2 if mode == "correlation" else total - total // 2
    cases = {"valid": (0, 0), "full": (total, total), "same": (lo, total - lo)}
    for name, pad in cases.items():
        y = convkit.conv(x, w, padding=name, mode=mode)
        np.testing.assert_allclose(y, oracle(x, w, stride=[1], pads=[pad], dilation=[1], mode=mode), atol=1e-12)


def test_padding_forms_are_equivalent(rng):
    x = rng.standard_normal((1, 2, 6, 7))
    w = rng.standard_normal((3, 2, 3, 2))
    ref = convkit.conv(x, w, padding=[(1, 1), (2, 2)])
    np.testing.assert_array_equal(convkit.conv(x, w, padding=(1, 2)), ref)
    np.testing.assert_array_equal(convkit.conv(x, w, padding=[1, (2, 2)]), ref)
    np.testing.assert_array_equal(convkit.conv(x, w, padding=np.int64(1), stride=np.int64(2)),
                                  convkit.conv(x, w, padding=1, stride=(2, 2)))


def test_float32_stays_float32_and_accumulates_in_double(rng):
    x = rng.standard_normal((2, 3, 17)).astype(np.float32)
    w = rng.standard_normal((4, 3, 5)).astype(np.float32)
    y = convkit.conv(x, w, padding="same")
    assert y.dtype == np.float32
    ref = oracle(x, w, stride=[1], pads=[(2, 2)], dilation=[1])
    np.testing.assert_array_equal(y, ref.astype(np.float32))  # double sums, one rounding


def test_other_real_dtypes_and_lists_become_float64():
    y = convkit.conv([[[1, 2, 3, 4]]], np.array([[[1, 1]]], dtype=np.int32))
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [[[3.0, 5.0, 7.0]]])
    y = convkit.conv(np.ones((1, 1, 4), np.float32), np.ones((1, 1, 2), np.float64))
    assert y.dtype == np.float64


def test_complex_inputs_are_refused():
    with pytest.raises(ValueError, match="complex"):
        convkit.conv(np.ones((1, 1, 4), complex), np.ones((1, 1, 2)))


def test_non_contiguous_inputs_are_copied_once(rng):
    x = rng.standard_normal((1, 1, 10, 12))[..., ::2]
    w = np.asfortranarray(rng.standard_normal((1, 1, 3, 3)))
    np.testing.assert_allclose(convkit.conv(x, w), convkit.conv(np.ascontiguousarray(x), np.ascontiguousarray(w)))


def test_out_is_written_in_place_and_returned(rng):
    x = rng.standard_normal((1, 1, 8))
    w = rng.standard_normal((1, 1, 3))
    out = np.full((1, 1, 6), np.nan)
    y = convkit.conv(x, w, out=out)
    assert y is out
    np.testing.assert_allclose(out, oracle(x, w, stride=[1], pads=[(0, 0)], dilation=[1]), atol=1e-13)


def test_out_must_be_contiguous_writable_and_shaped(rng):
    x = rng.standard_normal((1, 1, 8))
    w = rng.standard_normal((1, 1, 3))
    with pytest.raises(ValueError, match="C-contiguous"):
        convkit.conv(x, w, out=np.empty((1, 1, 12))[..., ::2])
    ro = np.empty((1, 1, 6))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        convkit.conv(x, w, out=ro)
    with pytest.raises(ValueError, match="convkit InvalidArgument"):
        convkit.conv(x, w, out=np.empty((1, 1, 5)))


def test_pytorch_conventions_for_same_dilation_and_groups(rng):
    # PyTorch's padding='same' for cross-correlation: the smaller half first, any dilation.
    x = rng.standard_normal((1, 4, 11))
    w = rng.standard_normal((6, 2, 4))
    y = convkit.conv(x, w, padding="same", dilation=2, groups=2)
    total = 2 * 3
    ref = oracle(x, w, stride=[1], pads=[(total // 2, total - total // 2)], dilation=[2], groups=2)
    np.testing.assert_allclose(y, ref, atol=1e-12)
    assert y.shape == (1, 6, 11)


def test_output_shape_and_queries():
    assert convkit.output_shape((2, 3, 32, 32), (8, 3, 3, 3), stride=2, padding=1) == (2, 8, 16, 16)
    assert convkit.output_shape(np.empty((1, 1, 10)), np.empty((1, 1, 4)), padding="full") == (1, 1, 13)
    ok, reason, variant = convkit.supports((1, 1, 32), (1, 1, 3), algorithm="direct")
    assert ok and reason == "" and variant.startswith("direct/")
    ok, reason, _ = convkit.supports((1, 1, 32), (1, 1, 3), algorithm="fft", direction="backward_data")
    assert not ok and "Fft" in reason
    assert convkit.workspace_bytes((1, 1, 32), (1, 1, 3), algorithm="reference") == 0
    assert convkit.workspace_bytes((2, 3, 16, 16), (4, 3, 3, 3), algorithm="im2col_gemm", dtype=np.float32) > 0
    with pytest.raises(NotImplementedError, match="Fft"):
        convkit.workspace_bytes((1, 1, 32), (1, 1, 3), algorithm="fft", direction="backward_filter")
    with pytest.raises(TypeError, match="unexpected keyword"):
        convkit.supports((1, 1, 32), (1, 1, 3), strides=2)


def test_choose_algorithm_prints_like_explain():
    try:
        choice = convkit.choose_algorithm((1, 1, 4096), (1, 1, 9), dtype=np.float32)
    except convkit.Error as e:  # a build whose cost model needs the device
        assert e.status == convkit.Status.NoDevice
        return
    text = str(choice)
    assert text == choice.explain()
    assert "chose" in text and convkit._convkit.algorithm_name(choice.chosen) in text
    assert len(choice.candidates) >= 3


def test_info_prints_version_build_device_and_algorithms():
    buf = io.StringIO()
    convkit.info(file=buf)
    text = buf.getvalue()
    assert text.startswith(f"convkit {convkit.__version__}\n")
    for word in ("build:", "device:", "reference", "direct", "im2col_gemm", "sparse_toeplitz", "fft"):
        assert word in text


def test_gpu_algorithm_on_host_arrays_is_a_value_error_naming_the_device(rng):
    x = rng.standard_normal((1, 1, 8))
    w = rng.standard_normal((1, 1, 3))
    for algo in ("direct", "im2col_gemm", "sparse_toeplitz"):
        with pytest.raises((ValueError, convkit.Error), match="device"):
            convkit.conv(x, w, algorithm=algo)


def test_context_handles_share_the_settings_of_their_device_and_stream():
    a, b = convkit.Context(), convkit.Context(0, 0)
    elsewhere = convkit.Context(device=1)  # a handle only: nothing runs on it
    assert (a.device, a.stream) == (0, 0) and (elsewhere.device, elsewhere.stream) == (1, 0)
    assert a.exact() is False
    try:
        a.set_exact(True)
        assert b.exact() is True and convkit.Context().exact() is True
        assert elsewhere.exact() is False
    finally:
        a.set_exact(False)
    assert b.exact() is False
    with pytest.raises(TypeError, match="stream"):
        convkit.Context(stream="default")


def test_exact_context_keeps_auto_away_from_fft():
    xs, ws = (1, 1, 1 << 20), (1, 1, 257)
    if not convkit.supports(xs, ws, algorithm="fft", dtype=np.float32)[0]:
        pytest.skip("Algorithm::Fft does not serve this problem in this build")
    ctx = convkit.Context()
    try:
        ctx.set_exact(True)
        try:
            choice = convkit.choose_algorithm(xs, ws, dtype=np.float32)  # device 0, stream 0: ctx's context
        except convkit.Error as e:
            assert e.status == convkit.Status.NoDevice
            pytest.skip("this build's cost model needs the device")
        assert choice.chosen != _ck.Algorithm.Fft
        fft = [c for c in choice.candidates if c.algorithm == _ck.Algorithm.Fft]
        assert len(fft) == 1 and not fft[0].considered and "exact" in fft[0].excluded_because, str(choice)
    finally:
        ctx.set_exact(False)
    fft = [c for c in convkit.choose_algorithm(xs, ws, dtype=np.float32).candidates if c.algorithm == _ck.Algorithm.Fft]
    assert len(fft) == 1 and fft[0].considered, fft[0].excluded_because
