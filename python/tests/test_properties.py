"""Hypothesis properties of the convolution, small and seeded (CI has two cores): linearity,
commutativity of true convolution, Toeplitz·x == conv, and conv / conv_transpose adjointness."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import convkit
from convkit import _convkit
from convkit._core import make_spec

sparse = pytest.importorskip("scipy.sparse")

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None)


@st.composite
def problems(draw):
    d = draw(st.integers(1, 2))
    groups = draw(st.sampled_from([1, 2]))
    C, K = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    D = [draw(st.integers(3, 7)) for _ in range(d)]
    k = [draw(st.integers(1, 3)) for _ in range(d)]
    boundary = draw(st.sampled_from(["zeros", "circular", "reflect", "replicate", "symmetric"]))
    pads = [(draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(d)]
    stride = [draw(st.integers(1, 2)) for _ in range(d)]
    mode = draw(st.sampled_from(["correlation", "convolution"]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((draw(st.integers(1, 2)), C, *D))
    w = rng.standard_normal((K, C // groups, *k))
    return x, w, dict(padding=pads, stride=stride, groups=groups, boundary=boundary, mode=mode), rng


@SETTINGS
@given(problems())
def test_linearity(p):
    x, w, kw, rng = p
    x2 = rng.standard_normal(x.shape)
    a, b = 1.5, -0.25
    lhs = convkit.conv(a * x + b * x2, w, **kw)
    np.testing.assert_allclose(lhs, a * convkit.conv(x, w, **kw) + b * convkit.conv(x2, w, **kw), atol=1e-10)


@SETTINGS
@given(st.integers(1, 12), st.integers(1, 12), st.integers(0, 2**32 - 1))
def test_true_convolution_commutes(n, m, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((1, 1, n)), rng.standard_normal((1, 1, m))
    kw = dict(mode="convolution", padding="full")
    np.testing.assert_allclose(convkit.conv(x, w, **kw), convkit.conv(w, x, **kw), rtol=1e-12, atol=1e-12)


@SETTINGS
@given(problems())
def test_toeplitz_times_x_is_conv(p):
    x, w, kw, _ = p
    T = convkit.toeplitz_matrix(x.shape, w, **kw)
    y = convkit.conv(x, w, **kw)
    np.testing.assert_allclose((T @ x.reshape(x.shape[0], -1).T).T.reshape(y.shape), y, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(problems())
def test_conv_transpose_is_the_adjoint(p):
    x, w, kw, rng = p
    y = convkit.conv(x, w, **kw)
    dy = rng.standard_normal(y.shape)
    dx = np.empty_like(x)
    _convkit.reference_conv_transpose(make_spec(x.ndim - 2, **kw), dy, w, dx)
    np.testing.assert_allclose(np.vdot(y, dy), np.vdot(x, dx), rtol=1e-10)
