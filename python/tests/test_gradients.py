"""The gradients and the transposed convolution on host arrays, against an independent oracle.

Each gradient element is the derivative of the scalar <conv(x, w), dy>,
computed here from the tests' own forward oracle (helpers.oracle) on basis
vectors: dx[j] = <oracle(e_j, w), dy>, dw[j] = <oracle(x, e_j), dy>. On
small integers every value is exact. The transposed convolution is also
checked against NumPy's full convolution of the zero-upsampled input, which
is what PyTorch's conv_transpose1d computes for one channel.
"""

import numpy as np
import pytest

import convkit
from helpers import oracle

CASES = [
    # (x shape, w shape, kwargs for conv / the oracle)
    ((2, 2, 7), (3, 2, 3), dict(stride=1, padding=1, dilation=1)),
    ((1, 2, 9), (2, 1, 3), dict(stride=2, padding=2, dilation=1, groups=2)),
    ((1, 1, 8), (1, 1, 2), dict(stride=1, padding=(1, 0), dilation=3)),
    ((2, 1, 6), (2, 1, 3), dict(stride=1, padding=2, dilation=1, boundary="reflect", mode="convolution")),
    ((1, 1, 5), (1, 1, 4), dict(stride=2, padding=3, dilation=1, boundary="replicate")),
    ((1, 1, 6), (1, 1, 3), dict(stride=1, padding=(2, 1), dilation=1, boundary="circular")),
    ((1, 2, 5), (2, 2, 2), dict(stride=1, padding=(1, 2), dilation=1, boundary="symmetric")),
    ((1, 2, 5, 4), (2, 1, 3, 2), dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2)),
    ((1, 1, 4, 5), (1, 1, 2, 3), dict(stride=1, padding=1, dilation=1, boundary="reflect", mode="convolution")),
]


def _pads(kw, d):
    p = kw.get("padding", 0)
    if isinstance(p, int):
        return [(p, p)] * d
    if isinstance(p, tuple) and len(p) == 2 and d == 1:
        return [p]
    return [(q, q) if isinstance(q, int) else q for q in p]


def _per_dim(v, d):
    return [v] * d if isinstance(v, int) else list(v)


def _oracle(x, w, kw):
    d = x.ndim - 2
    return oracle(x, w, stride=_per_dim(kw.get("stride", 1), d), pads=_pads(kw, d),
                  dilation=_per_dim(kw.get("dilation", 1), d), groups=kw.get("groups", 1),
                  mode=kw.get("mode", "correlation"), boundary=kw.get("boundary", "zeros"))


def _conv_kw(kw):
    out = dict(kw)
    d = out.get("padding")
    if isinstance(d, tuple) and len(d) == 2 and all(isinstance(e, int) for e in d):
        out["padding"] = [d]  # one (lo, hi) pair for the single spatial dimension
    return out


def _ints(rng, shape):
    return rng.integers(-4, 5, size=shape).astype(np.float64)


def _jacobian_transpose(f, shape, dy):
    g = np.zeros(shape)
    for j in np.ndindex(*shape):
        e = np.zeros(shape)
        e[j] = 1.0
        g[j] = np.sum(f(e) * dy)
    return g


@pytest.mark.parametrize("xs,ws,kw", CASES, ids=[str(i) for i in range(len(CASES))])
def test_gradients_equal_the_oracles_derivatives(rng, xs, ws, kw):
    x, w = _ints(rng, xs), _ints(rng, ws)
    ckw = _conv_kw(kw)
    y = convkit.conv(x, w, **ckw)
    np.testing.assert_array_equal(y, _oracle(x, w, kw))
    dy = _ints(rng, y.shape)
    want_dx = _jacobian_transpose(lambda e: _oracle(e, w, kw), xs, dy)
    want_dw = _jacobian_transpose(lambda e: _oracle(x, e, kw), ws, dy)
    np.testing.assert_array_equal(convkit.conv_backward_data(xs, w, dy, **ckw), want_dx)
    np.testing.assert_array_equal(convkit.conv_backward_filter(x, ws, dy, **ckw), want_dw)
    np.testing.assert_array_equal(convkit.conv_backward_bias(dy), dy.sum(axis=tuple(i for i in range(dy.ndim) if i != 1)))


def test_beta_one_accumulates_and_beta_zero_never_reads(rng):
    xs, ws, kw = CASES[0]
    x, w = _ints(rng, xs), _ints(rng, ws)
    dy = _ints(rng, convkit.output_shape(xs, ws, **kw))
    grad = convkit.conv_backward_data(xs, w, dy, **kw)
    out = np.full(xs, np.nan)
    assert convkit.conv_backward_data(xs, w, dy, out=out, **kw) is out
    np.testing.assert_array_equal(out, grad)
    prior = _ints(rng, xs)
    out = prior.copy()
    convkit.conv_backward_data(xs, w, dy, out=out, beta=1, **kw)
    np.testing.assert_array_equal(out, prior + grad)
    dw = prior_w = _ints(rng, ws)
    dw = prior_w.copy()
    convkit.conv_backward_filter(x, ws, dy, out=dw, beta=1, **kw)
    np.testing.assert_array_equal(dw, prior_w + convkit.conv_backward_filter(x, ws, dy, **kw))
    db = np.ones(ws[0])
    convkit.conv_backward_bias(dy, out=db, beta=1)
    np.testing.assert_array_equal(db, 1 + dy.sum(axis=(0, 2)))


def test_bad_beta_and_shapes_are_value_errors(rng):
    w = np.ones((1, 1, 3))
    dy = np.ones((1, 1, 3))
    with pytest.raises(ValueError, match="beta"):
        convkit.conv_backward_data((1, 1, 5), w, dy, beta=0.5, out=np.zeros((1, 1, 5)))
    with pytest.raises(ValueError, match="pass out="):
        convkit.conv_backward_data((1, 1, 5), w, dy, beta=1)
    with pytest.raises(ValueError, match="dx shape|dy shape"):
        convkit.conv_backward_data((1, 1, 6), w, dy)  # 6 samples give 4 outputs, not 3
    with pytest.raises(ValueError, match="dw"):
        convkit.conv_backward_filter(np.ones((1, 1, 5)), (1, 2, 3), dy)
    with pytest.raises(ValueError, match="algorithm"):
        convkit.conv_backward_data((1, 1, 5), w, dy, algorithm="magic")
    with pytest.raises(ValueError, match="host"):
        convkit.conv_backward_data((1, 1, 5), w, dy, algorithm="direct")  # a GPU algorithm on host arrays


def _upsampled_full_convolution(x, w, stride):
    up = np.zeros((len(x) - 1) * stride + 1)
    up[::stride] = x
    return np.convolve(up, w)


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_transpose_is_numpys_full_convolution_of_the_upsampled_input(rng, stride):
    x, w = _ints(rng, 7), _ints(rng, 4)
    y = convkit.conv_transpose(x.reshape(1, 1, -1), w.reshape(1, 1, -1), stride=stride)
    np.testing.assert_array_equal(y.ravel(), _upsampled_full_convolution(x, w, stride))


def _pytorch_size(o, k, s, p, d, op):
    return (o - 1) * s - 2 * p + d * (k - 1) + op + 1


@pytest.mark.parametrize("o,k,s,p,d,op", [(5, 3, 2, 1, 1, 1), (4, 4, 3, 0, 1, 2), (6, 3, 1, 1, 2, 0),
                                          (3, 5, 2, 2, 1, 0)])
def test_transpose_output_size_padding_and_bias_follow_pytorch(rng, o, k, s, p, d, op):
    x, w, b = _ints(rng, (2, 3, o)), _ints(rng, (3, 2, k)), _ints(rng, 2)
    y = convkit.conv_transpose(x, w, b, s, p, op, 1, d)
    assert y.shape == (2, 2, _pytorch_size(o, k, s, p, d, op))
    # The adjoint of the forward conv from y's shape to x's, plus the bias.
    want = convkit.conv_backward_data(y.shape, w, x, stride=s, padding=p, dilation=d) + b.reshape(1, -1, 1)
    np.testing.assert_array_equal(y, want)


def test_transpose_groups_and_2d(rng):
    x, w = _ints(rng, (1, 4, 3, 4)), _ints(rng, (4, 3, 2, 3))
    y = convkit.conv_transpose(x, w, stride=(2, 1), padding=(1, 0), output_padding=(1, 0), groups=2)
    assert y.shape == (1, 6, _pytorch_size(3, 2, 2, 1, 1, 1), _pytorch_size(4, 3, 1, 0, 1, 0))
    want = _jacobian_transpose(lambda e: _oracle(e, w, dict(stride=(2, 1), padding=[(1, 1), (0, 0)], groups=2)),
                               y.shape, x)
    np.testing.assert_array_equal(y, want)
    with pytest.raises(ValueError, match="output_padding"):
        convkit.conv_transpose(x, w, stride=2, output_padding=2, groups=2)


def test_queries_answer_per_direction():
    for d in ("forward", "backward_data", "backward_filter"):
        ok, why, variant = convkit.supports((1, 1, 64), (1, 1, 3), algorithm="direct", direction=d)
        assert ok, why
        assert variant.startswith("direct/")
        assert convkit.supports((1, 1, 64), (1, 1, 3), algorithm="reference", direction=d)[0]
    assert convkit.workspace_bytes((2, 3, 16), (4, 3, 3), algorithm="direct", direction="backward_data") == 0
    assert convkit.workspace_bytes((2, 3, 16), (4, 3, 3), algorithm="direct", direction="backward_filter") > 0
    with pytest.raises(ValueError, match="direction"):
        convkit.supports((1, 1, 64), (1, 1, 3), direction="sideways")
