"""SciPy-compatible ``convolve``, ``correlate``, ``fftconvolve``, ``oaconvolve``, ``convolve2d`` and ``correlate2d``.

Same names, arguments and results as ``scipy.signal``'s functions on real
float arrays of rank 1 to 3 (one array: no batch or channel axes). Each call
is one ``convkit.conv`` with ``N = C = K = 1``: NumPy arrays run through the
CPU reference (float64 accumulation), CuPy arrays and CUDA PyTorch tensors
through the GPU algorithms.

Mapping onto convkit's spec (the README's table):

=================  ==========================================================
SciPy              convkit
=================  ==========================================================
convolve           ``mode='convolution'``, padding = SciPy's mode
correlate          ``convolve`` with ``in2`` reversed (SciPy's own identity)
method='fft'       ``algorithm='fft'`` on CUDA arrays; the reference on NumPy
fftconvolve        ``convolve(method='fft')``
oaconvolve         ``convolve(method='fft')`` (convkit's FFT algorithm picks
                   its overlap-save blocks itself)
mode='full'        ``padding='full'`` (``k-1`` on each side)
mode='valid'       ``padding='valid'``; the inputs are swapped as SciPy does
                   when ``in2`` is the larger in every dimension
mode='same'        ``padding='same'`` (convolution: the larger half first)
boundary='fill'    ``boundary='zeros'`` (``fillvalue`` 0 only)
boundary='wrap'    ``boundary='circular'``
boundary='symm'    ``boundary='symmetric'``
=================  ==========================================================

Differences from SciPy: integer inputs are computed and returned in float64
(SciPy returns their integer type); complex inputs raise ValueError;
``method='fft'`` (and `fftconvolve`, `oaconvolve`) on NumPy arrays computes
with the CPU reference like every NumPy call, so that result is exact (float64
accumulation, not an FFT's normwise error); on CUDA arrays it runs convkit's
FFT algorithm, whose error is normwise as SciPy's FFT results are; `fftconvolve`
and `oaconvolve` take ``axes=None`` only (other values raise
NotImplementedError); a ``fillvalue`` other than 0 raises NotImplementedError; under
'wrap' and 'symm' each side's padding must be at most the input's size along
that dimension (convkit's rule, as PyTorch's circular padding), where SciPy
extends periodically further: a ValueError names the dimension and sizes.
"""

import sys

import numpy as np

from . import _arrays
from ._core import conv

__all__ = ["convolve", "correlate", "fftconvolve", "oaconvolve", "convolve2d", "correlate2d"]

_MODES = ("full", "valid", "same")
_BOUNDARIES = {"fill": "zeros", "pad": "zeros", "wrap": "circular", "circular": "circular",
               "symm": "symmetric", "symmetric": "symmetric"}


def _as_input(a):
    if _arrays.kind_of(a) == _arrays._Kind.NUMPY and not _arrays.is_torch_cpu(a):
        return np.asarray(a)
    return a


def _flip(a):
    if _arrays.is_torch_cpu(a) or _arrays.kind_of(a) == _arrays._Kind.TORCH:
        return a.flip(tuple(range(a.ndim)))
    return a[(slice(None, None, -1),) * a.ndim]


def _reshape(a, shape):
    return a.reshape(tuple(shape))


def _check_mode(mode):
    if mode not in _MODES:
        raise ValueError("acceptable mode flags are 'valid', 'same', or 'full'")


def _swap_needed(mode, s1, s2):
    """SciPy's rule: in 'valid' mode the larger input goes first; neither larger is an error."""
    if mode != "valid":
        return False
    ok1 = all(a >= b for a, b in zip(s1, s2))
    ok2 = all(b >= a for a, b in zip(s1, s2))
    if not (ok1 or ok2):
        raise ValueError("For 'valid' mode, one must be at least as large as the other in every dimension")
    return not ok1


def _convolve_nd(in1, in2, mode, boundary="zeros", spec_mode="convolution", algorithm="auto", padding=None):
    """True convolution (or, with spec_mode='correlation', correlation) of two single arrays.

    `padding`, when given, is convkit's padding in place of `mode`'s (and the inputs are never swapped).
    """
    if in1.ndim != in2.ndim:
        raise ValueError("in1 and in2 should have the same dimensionality")
    if not 1 <= in1.ndim <= 3:
        raise ValueError(f"convkit computes arrays of rank 1 to 3; got rank {in1.ndim}")
    if _size(in1) == 0 or _size(in2) == 0:
        return np.array([])
    if padding is None and _swap_needed(mode, in1.shape, in2.shape):
        in1, in2 = in2, in1
    y = conv(_reshape(in1, (1, 1) + tuple(in1.shape)), _reshape(in2, (1, 1) + tuple(in2.shape)),
             mode=spec_mode, padding=mode if padding is None else padding, boundary=boundary, algorithm=algorithm)
    return _reshape(y, tuple(y.shape)[2:])


def _size(a):
    n = 1
    for d in a.shape:
        n *= int(d)
    return n


def _algorithm(method, in1):
    """conv's algorithm for `method`: 'fft' is convkit's FFT on CUDA arrays; NumPy always runs the reference."""
    if method in ("auto", "direct"):
        return "auto"
    if method == "fft":
        return "reference" if _arrays.kind_of(in1) == _arrays._Kind.NUMPY else "fft"
    raise ValueError("Acceptable method flags are 'auto', 'direct', or 'fft'.")


def convolve(in1, in2, mode="full", method="auto"):
    """Convolve two N-dimensional arrays (``scipy.signal.convolve``).

    Parameters
    ----------
    in1 : array_like
        First input, rank 1 to 3.
    in2 : array_like
        Second input, of the same rank.
    mode : {'full', 'valid', 'same'}, optional
        'full': the full discrete linear convolution; 'valid': only the
        elements that do not rely on zero padding (one input must be at least
        as large as the other in every dimension); 'same': the size of
        `in1`, centred on the 'full' output.
    method : {'auto', 'direct', 'fft'}, optional
        'auto' and 'direct': the reference for NumPy input, convkit's
        automatic GPU choice for CUDA arrays. 'fft': convkit's FFT algorithm
        for CUDA arrays (normwise error, as SciPy's FFT); NumPy input still
        runs the reference, so its result is exact.

    Returns
    -------
    convolve : array
        ``out[n] = sum_m in1[m] * in2[n - m]``, in1's array type.

    Raises
    ------
    ValueError
        Different ranks, a bad `mode` or `method`, 'valid' with neither input
        the larger, a complex input.
    NotImplementedError
        ``method='fft'`` on CUDA arrays the FFT algorithm does not serve.

    Notes
    -----
    convkit's ``conv(x, w, mode='convolution', padding=mode)`` with
    ``N = C = K = 1``; see the module's table.

    Examples
    --------
    >>> import numpy as np
    >>> from convkit import signal
    >>> signal.convolve([1.0, 2.0, 3.0], [0.0, 1.0, 0.5])
    array([0. , 1. , 2.5, 4. , 1.5])
    >>> signal.convolve([1.0, 2.0, 3.0], [0.0, 1.0, 0.5], mode="same")
    array([1. , 2.5, 4. ])
    """
    _check_mode(mode)
    in1, in2 = _as_input(in1), _as_input(in2)
    return _convolve_nd(in1, in2, mode, algorithm=_algorithm(method, in1))


def correlate(in1, in2, mode="full", method="auto"):
    """Cross-correlate two N-dimensional arrays (``scipy.signal.correlate``).

    Parameters
    ----------
    in1, in2 : array_like
        Inputs of the same rank (1 to 3).
    mode : {'full', 'valid', 'same'}, optional
        As in `convolve`.
    method : {'auto', 'direct', 'fft'}, optional
        As in `convolve`.

    Returns
    -------
    correlate : array
        ``z[k] = sum_l in1[l] * in2[l - k + N - 1]`` for 'full' (N = len(in2)):
        index k is lag ``k - (N - 1)``, SciPy's reversed-lag order, so
        ``correlate(a, b)`` is ``convolve(a, b[::-1])``.

    Notes
    -----
    Computed as ``convolve(in1, in2 reversed, mode)``, which is SciPy's
    definition for real inputs in every mode.

    Examples
    --------
    >>> from convkit import signal
    >>> signal.correlate([1.0, 2.0, 3.0], [0.0, 1.0, 0.5])
    array([0.5, 2. , 3.5, 3. , 0. ])
    """
    _check_mode(mode)
    in1, in2 = _as_input(in1), _as_input(in2)
    algorithm = _algorithm(method, in1)
    if in1.ndim != in2.ndim:
        raise ValueError("in1 and in2 should have the same dimensionality")
    return _convolve_nd(in1, _flip(in2), mode, algorithm=algorithm)


def _fft_convolve(in1, in2, mode, axes, name):
    """`fftconvolve` / `oaconvolve`: ``convolve(method='fft')``, with SciPy's 'valid' rule for them.

    In 'valid' mode SciPy's FFT functions leave every axis where either input
    has size 1 to broadcasting (the 'full' product there: zero padding of the
    kernel's size - 1 on each side) and apply 'valid', with its swap rule, to
    the other axes only.
    """
    if axes is not None:
        raise NotImplementedError(f"{name}: axes={axes!r}: convkit convolves over every axis (axes=None only)")
    _check_mode(mode)
    in1, in2 = _as_input(in1), _as_input(in2)
    algorithm = _algorithm("fft", in1)
    if mode != "valid" or in1.ndim != in2.ndim or _size(in1) == 0 or _size(in2) == 0:
        return _convolve_nd(in1, in2, mode, algorithm=algorithm)
    kept = [i for i in range(in1.ndim) if in1.shape[i] != 1 and in2.shape[i] != 1]
    if _swap_needed(mode, [in1.shape[i] for i in kept], [in2.shape[i] for i in kept]):
        in1, in2 = in2, in1
    pads = [(0, 0) if i in kept else (in2.shape[i] - 1, in2.shape[i] - 1) for i in range(in1.ndim)]
    return _convolve_nd(in1, in2, mode, algorithm=algorithm, padding=pads)


def fftconvolve(in1, in2, mode="full", axes=None):
    """Convolve two N-dimensional arrays using FFT (``scipy.signal.fftconvolve``).

    Parameters
    ----------
    in1, in2 : array_like
        Inputs of the same rank (1 to 3).
    mode : {'full', 'valid', 'same'}, optional
        As in `convolve`.
    axes : None, optional
        Must be None: every axis is convolved.

    Returns
    -------
    out : array
        ``convolve(in1, in2, mode, method='fft')``: convkit's FFT algorithm
        for CUDA arrays; the CPU reference for NumPy arrays, whose result is
        then exact (float64 accumulation), where SciPy's carries the FFT's
        rounding. In 'valid' mode an axis where either input has size 1 is
        broadcast (the 'full' product there), as SciPy's `fftconvolve` does
        (`convolve` refuses such shapes when neither input is the larger).

    Raises
    ------
    ValueError
        As `convolve`.
    NotImplementedError
        `axes` other than None; CUDA arrays the FFT algorithm does not serve.

    Examples
    --------
    >>> from convkit import signal
    >>> signal.fftconvolve([1.0, 2.0, 3.0], [0.0, 1.0, 0.5])
    array([0. , 1. , 2.5, 4. , 1.5])
    """
    return _fft_convolve(in1, in2, mode, axes, "fftconvolve")


def oaconvolve(in1, in2, mode="full", axes=None):
    """Convolve two N-dimensional arrays using the overlap-add method (``scipy.signal.oaconvolve``).

    Parameters and results as `fftconvolve`: convkit's FFT algorithm chooses
    its own blocks for long inputs (overlap-save), so this is `fftconvolve`
    under SciPy's other name.

    Examples
    --------
    >>> from convkit import signal
    >>> signal.oaconvolve([1.0, 2.0, 3.0], [0.0, 1.0, 0.5], mode="same")
    array([1. , 2.5, 4. ])
    """
    return _fft_convolve(in1, in2, mode, axes, "oaconvolve")


def _boundary(boundary, fillvalue):
    try:
        b = _BOUNDARIES[boundary]
    except (KeyError, TypeError):
        raise ValueError("Acceptable boundary flags are 'fill', 'circular' (or 'wrap'), and "
                         "'symmetric' (or 'symm').") from None
    if b == "zeros" and fillvalue != 0:
        raise NotImplementedError(f"fillvalue={fillvalue!r}: convkit pads with zeros only (fillvalue=0)")
    return b


def _check_2d(in1, in2, name):
    if not in1.ndim == in2.ndim == 2:
        raise ValueError(f"{name} inputs must both be 2-D arrays")


def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0):
    """Convolve two 2-dimensional arrays (``scipy.signal.convolve2d``).

    Parameters
    ----------
    in1, in2 : array_like
        2-D inputs.
    mode : {'full', 'valid', 'same'}, optional
        As in `convolve`.
    boundary : {'fill', 'wrap', 'symm'}, optional
        'fill' pads with `fillvalue` (0 only), 'wrap' wraps around
        (convkit's 'circular'), 'symm' reflects with the edge repeated
        (convkit's 'symmetric').
    fillvalue : scalar, optional
        Must be 0.

    Returns
    -------
    out : array
        The 2-D convolution of in1 with in2 over in1 extended by `boundary`.

    Raises
    ------
    ValueError
        Inputs not 2-D, a bad flag, or (wrap / symm) a padding larger than
        the input along a dimension (SciPy extends periodically there).
    NotImplementedError
        A nonzero `fillvalue`.

    Examples
    --------
    >>> import numpy as np
    >>> from convkit import signal
    >>> a = np.arange(9.0).reshape(3, 3)
    >>> signal.convolve2d(a, np.ones((2, 2)), mode="valid")
    array([[ 8., 12.],
           [20., 24.]])
    >>> signal.convolve2d(a, [[0.0, 1.0], [0.0, 0.0]], mode="same", boundary="wrap")
    array([[2., 0., 1.],
           [5., 3., 4.],
           [8., 6., 7.]])
    """
    _check_mode(mode)
    b = _boundary(boundary, fillvalue)
    in1, in2 = _as_input(in1), _as_input(in2)
    _check_2d(in1, in2, "convolve2d")
    return _convolve_nd(in1, in2, mode, b)


def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0):
    """Cross-correlate two 2-dimensional arrays (``scipy.signal.correlate2d``).

    Parameters and errors as in `convolve2d`.

    Returns
    -------
    out : array
        SciPy's 2-D correlation: for 'full' and 'valid',
        ``convolve2d(in1, in2[::-1, ::-1], mode, boundary)`` (the reversed-lag
        order of `correlate`); for 'same', SciPy centres correlate2d
        differently from `correlate` with an even kernel (the output starts
        at element ``k // 2`` of 'full', not ``(k - 1) // 2``), which is
        convkit's ``conv(x, w, mode='correlation', padding='same')`` (the
        smaller half of the padding first).

    Examples
    --------
    >>> import numpy as np
    >>> from convkit import signal
    >>> signal.correlate2d(np.arange(9.0).reshape(3, 3), [[1.0, 0.0], [0.0, 0.0]], mode="valid")
    array([[0., 1.],
           [3., 4.]])
    """
    _check_mode(mode)
    b = _boundary(boundary, fillvalue)
    in1, in2 = _as_input(in1), _as_input(in2)
    _check_2d(in1, in2, "correlate2d")
    if mode == "same":
        return _convolve_nd(in1, in2, mode, b, spec_mode="correlation")
    return _convolve_nd(in1, _flip(in2), mode, b)
