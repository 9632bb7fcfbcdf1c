"""SciPy-compatible ``convolve`` and ``correlate`` (``scipy.ndimage``'s).

Same names, arguments and results as ``scipy.ndimage.convolve`` /
``correlate`` on real float arrays of rank 1 to 3 with ``origin=0``: the
output has the input's shape, the kernel centred on each element (element
``k // 2`` of each axis for ``correlate``). Each call is one ``convkit.conv``
with ``N = C = K = 1`` and ``padding='same'``.

=================  ===========================================================
ndimage mode       convkit boundary (extension of ``a b c d``)
=================  ===========================================================
'reflect'          'symmetric'  (``b a | a b c d | d c``; ndimage's default)
'mirror'           'reflect'    (``c b | a b c d | c b``)
'nearest'          'replicate'  (``a a | a b c d | d d``)
'wrap'             'circular'   (``c d | a b c d | a b``)
'constant'         'zeros'      (``cval`` 0 only)
=================  ===========================================================

'grid-mirror', 'grid-wrap' and 'grid-constant' are the same as 'reflect',
'wrap' and 'constant' for these filters, as in SciPy.

Differences from SciPy: integer inputs are computed and returned in float64;
``origin`` other than 0 and ``cval`` other than 0 raise NotImplementedError;
the padding a kernel needs (about half its size) must not exceed the input
along any axis under 'reflect' and 'wrap' (nor reach it under 'mirror'):
convkit's rule, where SciPy keeps extending; a ValueError names the axis.
"""

import numpy as np

from . import _arrays
from ._core import conv
from .signal import _as_input, _flip, _reshape

__all__ = ["convolve", "correlate"]

_MODES = {"reflect": "symmetric", "grid-mirror": "symmetric", "mirror": "reflect", "nearest": "replicate",
          "wrap": "circular", "grid-wrap": "circular", "constant": "zeros", "grid-constant": "zeros"}


def _check(input, weights, mode, cval, origin, output):
    try:
        boundary = _MODES[mode]
    except (KeyError, TypeError):
        raise RuntimeError(f"boundary mode not supported: {mode!r}") from None
    if np.any(np.asarray(origin) != 0):
        raise NotImplementedError(f"origin={origin!r}: convkit centres the kernel (origin=0 only)")
    if boundary == "zeros" and cval != 0:
        raise NotImplementedError(f"cval={cval!r}: convkit pads with zeros only (cval=0)")
    if output is not None and not hasattr(output, "shape"):
        raise NotImplementedError("output must be None or an array (a dtype is not supported)")
    if input.ndim != weights.ndim:
        raise RuntimeError("filter weights array has incorrect shape.")
    if not 1 <= input.ndim <= 3:
        raise ValueError(f"convkit computes arrays of rank 1 to 3; got rank {input.ndim}")
    return boundary


def _run(input, kernel, boundary, mode_kw, output):
    x = _reshape(input, (1, 1) + tuple(input.shape))
    w = _reshape(kernel, (1, 1) + tuple(kernel.shape))
    out = None if output is None else _reshape(output, (1, 1) + tuple(output.shape))
    y = conv(x, w, padding="same", boundary=boundary, mode=mode_kw, out=out)
    return output if output is not None else _reshape(y, tuple(input.shape))


def correlate(input, weights, output=None, mode="reflect", cval=0.0, origin=0):
    """Multidimensional correlation (``scipy.ndimage.correlate``).

    Parameters
    ----------
    input : array_like
        Rank 1 to 3.
    weights : array_like
        Of the same rank.
    output : array, optional
        Where to write the result (C-contiguous, input's shape, the
        computation's dtype); returned.
    mode : {'reflect', 'constant', 'nearest', 'mirror', 'wrap'}, optional
        How the input extends past its edges (see the module's table).
    cval : scalar, optional
        0 only.
    origin : int or sequence, optional
        0 only.

    Returns
    -------
    result : array
        ``result[i] = sum_j weights[j] * input_ext[i + j - k//2]`` per axis,
        the input's shape.

    Raises
    ------
    RuntimeError
        An unknown mode or weights of another rank (SciPy's exceptions).
    NotImplementedError
        ``origin`` or ``cval`` other than 0.
    ValueError
        A padding the boundary cannot serve (see the module's notes).

    Notes
    -----
    convkit's ``conv(x, w[::-1], mode='convolution', padding='same')``:
    'same' under convolution puts the larger half of the padding first,
    which is ndimage's ``k // 2`` centre for even kernels too.

    Examples
    --------
    >>> import numpy as np
    >>> from convkit import ndimage
    >>> ndimage.correlate(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 1.0, 0.0]), mode="constant")
    array([1., 3., 5., 7.])
    """
    input, weights = _as_input(input), _as_input(weights)
    boundary = _check(input, weights, mode, cval, origin, output)
    return _run(input, _flip(weights), boundary, "convolution", output)


def convolve(input, weights, output=None, mode="reflect", cval=0.0, origin=0):
    """Multidimensional convolution (``scipy.ndimage.convolve``).

    Parameters, returns and errors as in `correlate`.

    Returns
    -------
    result : array
        ``correlate(input, weights reversed)`` with SciPy's origin shift for
        even kernels: ``result[i] = sum_j weights[j] * input_ext[i - j + (k-1)//2]``.

    Notes
    -----
    convkit's ``conv(x, w[::-1], mode='correlation', padding='same')``:
    'same' under correlation puts the smaller half first, which is the
    centre ndimage uses for convolution.

    Examples
    --------
    >>> import numpy as np
    >>> from convkit import ndimage
    >>> ndimage.convolve(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 1.0, 0.0]), mode="nearest")
    array([3., 5., 7., 8.])
    """
    input, weights = _as_input(input), _as_input(weights)
    boundary = _check(input, weights, mode, cval, origin, output)
    return _run(input, _flip(weights), boundary, "correlation", output)
