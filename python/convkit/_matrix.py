"""The convolution as a matrix: T with y = T·x per image, built by the library on the host."""

import operator
import os

from . import _arrays
from . import _convkit as _ck
from ._core import make_spec

_SPEC_KEYS = ("stride", "padding", "dilation", "groups", "mode", "boundary")


def _build_args(x_shape, w, spec, fn):
    unknown = set(spec) - set(_SPEC_KEYS)
    if unknown:
        raise TypeError(f"{fn}() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    if _arrays.kind_of(w) != _arrays._Kind.NUMPY:
        raise ValueError(f"{fn}: w must be a host array (NumPy); the matrix is built on the host")
    wc = _arrays.host_array(w, _arrays.float_dtype(w))
    xs = [operator.index(d) for d in x_shape]
    return make_spec(max(len(xs) - 2, 0), **spec), xs, wc


def toeplitz_matrix(x_shape, w, **spec):
    """The matrix T of the convolution, ``y.ravel() == T @ x.ravel()`` for one image.

    Parameters
    ----------
    x_shape : tuple of int
        Input shape (N, C, D1[, D2[, D3]]); T does not depend on N.
    w : array_like, shape (K, C/groups, k1[, k2[, k3]])
        Weights (host array).
    **spec
        stride, padding, dilation, groups, mode, boundary as in `convkit.conv`.

    Returns
    -------
    T : scipy.sparse.csr_array, shape (K*prod(O), C*prod(D))
        Built by the library (``toeplitz::build``): Toeplitz in 1-D, doubly
        block Toeplitz in 2-D (doubly block circulant with
        ``boundary='circular'``); border taps of the reflect, replicate and
        symmetric boundaries folded onto their columns and summed. Stored
        entries are structural (a zero weight still stores one). Indices are
        int64, values w's dtype (float32 stays float32, others float64).

    Raises
    ------
    ImportError
        SciPy is not installed.
    ValueError, NotImplementedError
        An invalid problem; a matrix over the library's memory budget.

    Notes
    -----
    For one channel, 1-D, ``mode='convolution'`` and ``padding='valid'`` or
    ``'full'``, T equals ``scipy.linalg.convolution_matrix(w, n, mode)``.

    Examples
    --------
    >>> import numpy as np, convkit
    >>> T = convkit.toeplitz_matrix((1, 1, 5), np.array([[[1.0, 2.0, 3.0]]]))
    >>> T.toarray()
    array([[1., 2., 3., 0., 0.],
           [0., 1., 2., 3., 0.],
           [0., 0., 1., 2., 3.]])
    """
    try:
        import scipy.sparse
    except ImportError:
        raise ImportError("convkit.toeplitz_matrix returns a scipy.sparse.csr_array: install SciPy "
                          "(pip install scipy)") from None
    s, xs, wc = _build_args(x_shape, w, spec, "toeplitz_matrix")
    rows, cols, indptr, indices, data = _ck.toeplitz_csr(s, xs, wc)
    return scipy.sparse.csr_array((data, indices, indptr), shape=(rows, cols))


def write_matrix_market(target, x_shape, w, **spec):
    """Writes the matrix T of `toeplitz_matrix` to `target` in Matrix Market format.

    Parameters
    ----------
    target : str or os.PathLike
        File name (as ``scipy.io.mmwrite`` takes; ``scipy.io.mmread`` reads it back).
    x_shape, w, **spec
        As for `toeplitz_matrix`.

    Notes
    -----
    "coordinate real general", 1-based, values with round-trip precision,
    written by the library (``Matrix::write_matrix_market``). Needs no SciPy.
    """
    s, xs, wc = _build_args(x_shape, w, spec, "write_matrix_market")
    _ck.write_matrix_market(s, xs, wc, os.fspath(target))
