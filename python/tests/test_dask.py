"""convkit.dask.conv: a Dask array convolved chunk by chunk equals convkit.conv of the whole array.

Small-integer float64 data makes both sides exact, so the comparison is
equality. NumPy chunks on the threaded scheduler; the CuPy leg is marked gpu.
"""

import doctest
import subprocess
import sys

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

import convkit  # noqa: E402
import convkit.dask  # noqa: E402
from helpers import gpu_frameworks  # noqa: E402

from hypothesis import given, settings, strategies as st  # noqa: E402

BOUNDARIES = ["zeros", "circular", "reflect", "replicate", "symmetric"]
MODES = ["correlation", "convolution"]


@pytest.fixture(autouse=True)
def threads():
    with dask.config.set(scheduler="threads"):
        yield


def ints(rng, shape):
    return rng.integers(-3, 4, size=shape).astype(np.float64)


def check(x, chunks, w, bias=None, **kw):
    """convkit.dask.conv on `x` in `chunks` against convkit.conv on all of x; returns the Dask result."""
    xd = da.from_array(x, chunks=chunks)
    y = convkit.dask.conv(xd, w, bias, **kw)
    expect = convkit.conv(x, w, bias, **kw)
    assert y.shape == expect.shape
    assert y.dtype == expect.dtype
    got = y.compute()
    assert type(got) is np.ndarray
    np.testing.assert_array_equal(got, expect)
    # Reasonable output chunks: N as given, K whole, along each spatial axis no empty block, none
    # larger than the whole input (or the output, where padding makes it longer), no more blocks
    # than the input has.
    assert y.chunks[0] == xd.chunks[0]
    assert y.chunks[1] == (w.shape[0],)
    for ax in range(2, x.ndim):
        assert min(y.chunks[ax]) >= 1
        assert max(y.chunks[ax]) <= max(x.shape[ax], y.shape[ax])
        assert len(y.chunks[ax]) <= len(xd.chunks[ax])
    return y


# -- 1-D: a 50-sample signal in 7-sample chunks (the last one 1 sample) ------------------------------------

@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stride,padding", [(s, p) for s in (1, 2, 3)
                                            for p in (0, 2, [(3, 1)], [(0, 4)], "valid", "full", "same")
                                            if p != "same" or s == 1])  # 'same' needs stride 1
def test_1d_every_boundary_mode_stride_padding(rng, boundary, mode, stride, padding):
    x = ints(rng, (1, 1, 50))
    w = ints(rng, (1, 1, 5))
    check(x, (1, 1, 7), w, stride=stride, padding=padding, mode=mode, boundary=boundary)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("stride,dilation", [(1, 2), (2, 3), (3, 2), (5, 1)])
def test_1d_chunks_smaller_than_the_kernel(rng, boundary, stride, dilation):
    # Kernel extent dil*(k-1)+1 up to 19 on 2- and 3-sample chunks: blocks are merged until
    # each holds the halo its left neighbour reads.
    x = ints(rng, (2, 1, 41))
    w = ints(rng, (1, 1, 7))
    for chunks in [(1, 1, 2), (2, 1, 3), (1, 1, (1, 2, 3, 30, 5))]:
        check(x, chunks, w, stride=stride, dilation=dilation, padding="full", boundary=boundary)
        check(x, chunks, w, stride=stride, dilation=dilation, padding=[(5, 2)], boundary=boundary, mode="convolution")


@pytest.mark.parametrize("even_k", [2, 4])
@pytest.mark.parametrize("mode", MODES)
def test_1d_same_with_even_kernels(rng, even_k, mode):
    # 'same' splits an even total differently for the two modes (README): the padded array must follow.
    x = ints(rng, (1, 1, 23))
    w = ints(rng, (1, 1, even_k))
    for dilation in (1, 3):
        check(x, (1, 1, 4), w, padding="same", dilation=dilation, mode=mode, boundary="reflect")


@pytest.mark.parametrize("kw,expected", [
    # Chunks 7 x 7 + 1. Output o goes with the chunk its window starts in: stride 1 keeps the
    # input's chunks, the first gaining the lo windows that start in the padding, and no window
    # starting in the last e - 1 - hi samples.
    (dict(), (7, 7, 7, 7, 7, 7, 4)),
    (dict(padding="same"), (9, 7, 7, 7, 7, 7, 6)),
    (dict(padding="full"), (11, 7, 7, 7, 7, 7, 7, 1)),
    # Stride 2 and 3: chunks start at output ceil((b + lo) / s), about 7/s outputs each.
    (dict(stride=2, padding="full"), (6, 3, 4, 3, 4, 3, 4)),
    (dict(stride=3), (3, 2, 2, 3, 2, 2, 2)),
])
def test_output_chunks_follow_the_input_chunks(rng, kw, expected):
    x = ints(rng, (1, 1, 50))
    w = ints(rng, (1, 1, 5))
    y = check(x, (1, 1, 7), w, **kw)
    assert y.chunks[2] == expected


@pytest.mark.parametrize("boundary,pad", [("circular", 6), ("symmetric", 6), ("reflect", 5), ("replicate", 9)])
def test_1d_padding_up_to_the_single_fold_limit(rng, boundary, pad):
    # The largest padding each mode allows on a 6-sample signal (pad <= D, reflect pad < D), in 2-sample chunks.
    x = ints(rng, (1, 1, 6))
    w = ints(rng, (1, 1, 3))
    for stride in (1, 2):
        check(x, (1, 1, 2), w, padding=pad, stride=stride, boundary=boundary)
        check(x, (1, 1, 2), w, padding=[(pad, 0)], stride=stride, boundary=boundary, mode="convolution")


def test_1d_one_chunk_and_chunks_of_one(rng):
    x = ints(rng, (1, 1, 17))
    w = ints(rng, (1, 1, 3))
    check(x, (1, 1, 17), w, padding=1, boundary="circular")
    check(x, (1, 1, 1), w, padding=1, boundary="circular")
    check(x, (1, 1, 1), w, padding=1, stride=4, boundary="symmetric")


# -- channels, groups, bias, batch ----------------------------------------------------------------------------

@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_groups_bias_and_chunked_batch(rng, boundary):
    x = ints(rng, (5, 4, 30))
    w = ints(rng, (6, 2, 3))
    b = ints(rng, (6,))
    y = check(x, (2, 4, 8), w, b, groups=2, stride=2, padding=[(2, 1)], boundary=boundary, mode="convolution")
    assert y.chunks[0] == (2, 2, 1)


def test_depthwise(rng):
    x = ints(rng, (2, 3, 19))
    w = ints(rng, (3, 1, 4))
    check(x, (1, 3, 5), w, groups=3, padding="same", boundary="replicate")


def test_chunked_channels_are_rechunked(rng):
    x = ints(rng, (2, 6, 25))
    w = ints(rng, (4, 3, 3))
    b = ints(rng, (4,))
    check(x, (1, 2, 6), w, b, groups=2, padding="full", boundary="symmetric")


# -- 2-D and 3-D ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stride,dilation,padding", [
    (1, 1, "same"),
    (1, (2, 1), "full"),
    ((2, 3), 1, ((1, 2), (0, 1))),
    (2, (1, 2), (2, 3)),
    (3, 1, "valid"),
])
def test_2d(rng, boundary, mode, stride, dilation, padding):
    x = ints(rng, (2, 3, 13, 11))
    w = ints(rng, (4, 3, 3, 2))
    b = ints(rng, (4,))
    check(x, (1, 3, 4, 5), w, b, stride=stride, dilation=dilation, padding=padding, mode=mode, boundary=boundary)


def test_2d_image_in_small_tiles(rng):
    # A grey image in 3x2 tiles, a 5x5 kernel: every tile is smaller than the kernel.
    x = ints(rng, (1, 1, 20, 17))
    w = ints(rng, (1, 1, 5, 5))
    for boundary in BOUNDARIES:
        check(x, (1, 1, 3, 2), w, padding="same", boundary=boundary)
        check(x, (1, 1, 3, 2), w, stride=2, padding=2, boundary=boundary, mode="convolution")


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("stride,dilation,padding", [
    (1, 1, "same"),
    (2, 1, "full"),
    ((1, 2, 3), (2, 1, 1), ((2, 0), 1, (1, 2))),
])
def test_3d(rng, boundary, stride, dilation, padding):
    x = ints(rng, (2, 2, 9, 8, 7))
    w = ints(rng, (4, 1, 3, 2, 3))
    b = ints(rng, (4,))
    for mode in MODES:
        check(x, (1, 2, 4, 3, 5), w, b, groups=2, stride=stride, dilation=dilation, padding=padding, mode=mode,
              boundary=boundary)


# -- random chunkings -------------------------------------------------------------------------------------

@st.composite
def problems(draw):
    D = draw(st.integers(4, 40))
    k = draw(st.integers(1, 6))
    dil = draw(st.integers(1, 3))
    stride = draw(st.integers(1, 4))
    boundary = draw(st.sampled_from(BOUNDARIES))
    limit = D - 1 if boundary == "reflect" else D  # the library's single-fold rule
    lo = draw(st.integers(0, min(limit, 8)))
    hi = draw(st.integers(0, min(limit, 8)))
    if dil * (k - 1) + 1 > D + lo + hi:
        k = 1
    cuts = sorted(draw(st.sets(st.integers(1, D - 1), max_size=8)))
    chunks = tuple(b - a for a, b in zip([0] + cuts, cuts + [D]))
    mode = draw(st.sampled_from(MODES))
    return D, chunks, k, dict(stride=stride, dilation=dil, padding=[(lo, hi)], boundary=boundary, mode=mode)


@settings(max_examples=150, deadline=None)
@given(problems(), st.integers(0, 2**32 - 1))
def test_random_chunkings_1d(problem, seed):
    D, chunks, k, kw = problem
    rng = np.random.default_rng(seed)
    check(ints(rng, (1, 2, D)), (1, 2, chunks), ints(rng, (3, 2, k)), **kw)


# -- types, dtypes, errors --------------------------------------------------------------------------------

def test_float32_stays_float32(rng):
    x = ints(rng, (1, 1, 30)).astype(np.float32)
    w = ints(rng, (1, 1, 4)).astype(np.float32)
    y = check(x, (1, 1, 7), w, padding="full", stride=2)
    assert y.dtype == np.float32


def test_the_result_is_lazy_and_composes(rng):
    x = ints(rng, (1, 1, 50))
    w = ints(rng, (1, 1, 3))
    y = convkit.dask.conv(da.from_array(x, chunks=(1, 1, 7)), w, padding="same")
    assert isinstance(y, da.Array)
    np.testing.assert_array_equal((2 * y).sum().compute(), 2 * convkit.conv(x, w, padding="same").sum())


def test_errors(rng):
    x = ints(rng, (1, 2, 20))
    xd = da.from_array(x, chunks=(1, 2, 6))
    w = ints(rng, (1, 2, 3))
    with pytest.raises(ValueError, match="dask.array.Array"):
        convkit.dask.conv(x, w)
    with pytest.raises(ValueError, match="w must be a NumPy or CuPy array"):
        convkit.dask.conv(xd, w.tolist())
    with pytest.raises(ValueError, match="compute it first"):
        convkit.dask.conv(xd, da.from_array(w))
    with pytest.raises(ValueError, match="bias must be a NumPy or CuPy array"):
        convkit.dask.conv(xd, w, [1.0])
    # The library's own validation, for the whole array, before anything is computed.
    with pytest.raises(ValueError, match="'same' needs stride 1"):
        convkit.dask.conv(xd, w, padding="same", stride=2)
    with pytest.raises(ValueError, match="boundary reflect"):
        convkit.dask.conv(xd, w, padding=20, boundary="reflect")
    with pytest.raises(ValueError, match="w.shape"):
        convkit.dask.conv(xd, ints(rng, (1, 3, 3)))
    with pytest.raises(ValueError, match="boundary="):
        convkit.dask.conv(xd, w, padding=1, boundary="mirror")
    with pytest.raises(ValueError, match="algorithm="):
        convkit.dask.conv(xd, w, algorithm="winograd")
    with pytest.raises(ValueError, match="chunks are numpy"):
        convkit.dask.conv(xd, _FakeCupy())
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        convkit.dask.conv(_unknown_chunks(xd), w)


class _FakeCupy:
    """Stands in for a CuPy array (its type's module is 'cupy...'): w on the device, chunks on the host."""
    shape = (1, 2, 3)


_FakeCupy.__module__ = "cupy._core.core"


def _unknown_chunks(xd):
    # A boolean mask leaves the batch axis with unknown (NaN) chunk sizes.
    return xd[da.from_array(np.array([True]), chunks=1)]


def test_import_convkit_does_not_import_dask():
    code = "import sys, convkit; assert 'dask' not in sys.modules, 'dask imported'; import convkit.dask"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_docstring_examples():
    result = doctest.testmod(convkit.dask, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


# -- CuPy chunks -------------------------------------------------------------------------------------------

CUPY = [mod for name, mod in gpu_frameworks() if name == "cupy"]


@pytest.mark.gpu
@pytest.mark.skipif(not CUPY or not convkit._convkit.device_available(), reason="needs a CUDA device and CuPy")
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_cupy_chunks(rng, boundary):
    cp = CUPY[0]
    for shape, chunks, wshape, kw in [
        ((1, 1, 50), (1, 1, 7), (1, 1, 5), dict(stride=3, padding="full")),
        ((2, 3, 13, 11), (1, 3, 4, 5), (4, 3, 3, 2), dict(stride=(2, 1), dilation=(1, 2), padding=(2, 1))),
        ((1, 2, 9, 8, 7), (1, 2, 4, 3, 5), (2, 1, 3, 2, 3), dict(groups=2, padding="same")),
    ]:
        x = ints(rng, shape)
        w = ints(rng, wshape)
        b = ints(rng, (wshape[0],))
        expect = convkit.conv(x, w, b, boundary=boundary, **kw)
        xd = da.from_array(cp.asarray(x), chunks=chunks, asarray=False)
        for algorithm in ["auto", "direct", "im2col_gemm"]:
            y = convkit.dask.conv(xd, cp.asarray(w), cp.asarray(b), boundary=boundary, algorithm=algorithm, **kw)
            got = y.compute()
            assert isinstance(got, cp.ndarray)
            np.testing.assert_allclose(cp.asnumpy(got), expect, rtol=1e-12, atol=1e-9)
