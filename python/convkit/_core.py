"""convkit.conv and its queries: the C++ spec, from Python arguments.

Arguments are translated into a ``ConvSpec`` of the extension; every rule
(shapes, padding arithmetic, output sizes, validation) is the C++ library's,
and so are the error messages.
"""

import operator

import numpy as np

from . import _arrays
from . import _convkit as _ck

_MODES = {
    "correlation": _ck.Mode.CrossCorrelation,
    "cross-correlation": _ck.Mode.CrossCorrelation,
    "convolution": _ck.Mode.Convolution,
}
_BOUNDARIES = {
    "zeros": _ck.Boundary.Zeros,
    "circular": _ck.Boundary.Circular,
    "reflect": _ck.Boundary.Reflect,
    "replicate": _ck.Boundary.Replicate,
    "symmetric": _ck.Boundary.Symmetric,
}
_ALGORITHMS = {
    "auto": _ck.Algorithm.Auto,
    "direct": _ck.Algorithm.Direct,
    "im2col_gemm": _ck.Algorithm.Im2colGemm,
    "sparse_toeplitz": _ck.Algorithm.SparseToeplitz,
    "fft": _ck.Algorithm.Fft,
    "reference": _ck.Algorithm.Reference,
}
_DIRECTIONS = {
    "forward": _ck.Direction.Forward,
    "backward_data": _ck.Direction.BackwardData,
    "backward_filter": _ck.Direction.BackwardFilter,
}
_NAMED_PADDINGS = {"valid": _ck.Padding.valid, "same": _ck.Padding.same, "full": _ck.Padding.full}
_DTYPES = {np.dtype(np.float32): _ck.DType.F32, np.dtype(np.float64): _ck.DType.F64}


def _choice(name, value, table):
    try:
        return table[value]
    except (KeyError, TypeError):
        opts = ", ".join(repr(k) for k in table)
        raise ValueError(f"{name}={value!r} is not one of {opts}") from None


def _ints(name, value):
    """An int (the same in every dimension) or a sequence of ints as a list (one per dimension)."""
    try:
        return operator.index(value)
    except TypeError:
        pass
    try:
        return [operator.index(v) for v in value]
    except TypeError:
        raise TypeError(f"{name} must be an int or a sequence of ints; got {value!r}") from None


def _padding(value):
    if isinstance(value, str):
        return _choice("padding", value, _NAMED_PADDINGS)()
    try:
        return _ck.Padding.uniform(operator.index(value))
    except TypeError:
        pass
    pairs = []
    try:
        items = list(value)
    except TypeError:
        raise TypeError(f"padding must be an int, 'valid', 'same', 'full', or a sequence of ints or "
                        f"(lo, hi) pairs; got {value!r}") from None
    for item in items:
        try:
            p = operator.index(item)
            pairs.append((p, p))
            continue
        except TypeError:
            pass
        try:
            lo, hi = item
            pairs.append((operator.index(lo), operator.index(hi)))
        except (TypeError, ValueError):
            raise TypeError(f"padding entries must be ints or (lo, hi) pairs of ints; got {item!r}") from None
    return _ck.Padding.per_dim(pairs)


_SPEC_CACHE = {}
_SPEC_CACHE_SIZE = 256


def make_spec(ndim, *, stride=1, padding=0, dilation=1, groups=1, mode="correlation", boundary="zeros",
              bias=False):
    """The extension's ConvSpec for `ndim` spatial dimensions (keyword arguments as in `conv`).

    Specs built from hashable arguments are kept (up to a few hundred) and
    shared: the translation costs microseconds, and a caller repeating one
    call pays it once. The returned spec must not be modified.
    """
    key = (ndim, stride, padding, dilation, groups, mode, boundary, bias)
    try:
        return _SPEC_CACHE[key]
    except KeyError:
        spec = _build_spec(ndim, stride, padding, dilation, groups, mode, boundary, bias)
        if len(_SPEC_CACHE) >= _SPEC_CACHE_SIZE:
            _SPEC_CACHE.clear()
        _SPEC_CACHE[key] = spec
        return spec
    except TypeError:  # unhashable arguments (lists): translated every call
        return _build_spec(ndim, stride, padding, dilation, groups, mode, boundary, bias)


def _build_spec(ndim, stride, padding, dilation, groups, mode, boundary, bias):
    spec = _ck.ConvSpec(ndim)
    spec.stride(_ints("stride", stride))
    spec.dilation(_ints("dilation", dilation))
    spec.padding(_padding(padding))
    spec.groups(operator.index(groups))
    spec.mode(_choice("mode", mode, _MODES))
    spec.boundary(_choice("boundary", boundary, _BOUNDARIES))
    spec.bias(bool(bias))
    return spec


def _spatial_dims(x_shape):
    # Rank below 3 leaves no spatial dimension; 0 makes the C++ name the rule.
    return max(len(x_shape) - 2, 0)


def _dtype_code(dtype):
    return _choice("dtype", np.dtype(dtype), _DTYPES)


def conv(x, w, bias=None, *, stride=1, padding=0, dilation=1, groups=1, mode="correlation", boundary="zeros",
         algorithm="auto", out=None, stream=None):
    """N-D convolution or cross-correlation of a batch, computed where the arrays live.

    Parameters
    ----------
    x : array_like, shape (N, C, D1[, D2[, D3]])
        Input. A NumPy array (or anything ``numpy.asarray`` accepts) is
        computed by the CPU reference; a CuPy array, a CUDA PyTorch tensor or
        another CUDA array with ``__dlpack__`` by the GPU algorithms, in place
        through DLPack.
    w : array_like, shape (K, C/groups, k1[, k2[, k3]])
        Weights, in x's array type and on its device.
    bias : array_like, shape (K,), optional
        Added to every output of channel k.
    stride, dilation : int or sequence of int
        One value for every spatial dimension, or one per dimension.
    padding : int, sequence, or {'valid', 'same', 'full'}
        An int pads every side of every dimension; a sequence has one entry
        per dimension, an int (both sides) or a ``(lo, hi)`` pair. 'same'
        keeps the size (stride 1; the smaller half first for correlation, the
        larger for convolution: PyTorch's and SciPy's rules), 'full' pads
        ``dilation*(k-1)`` on each side.
    groups : int
        Input and output channels split into this many groups.
    mode : {'correlation', 'convolution'}
        Cross-correlation (what PyTorch calls convolution), or true
        convolution with the kernel flipped.
    boundary : {'zeros', 'circular', 'reflect', 'replicate', 'symmetric'}
        How x extends past its edges (PyTorch's ``padding_mode`` names;
        'symmetric' repeats the edge, NumPy's ``pad`` mode of that name).
    algorithm : {'auto', 'direct', 'im2col_gemm', 'sparse_toeplitz', 'fft', 'reference'}
        For device arrays: which GPU algorithm runs ('auto' lets convkit
        choose). Host arrays always run the reference ('auto' or
        'reference'; a GPU algorithm on host arrays is a ValueError).
    out : array, optional
        Where to write the result: C-contiguous, of the output's shape and
        dtype, in x's array type and on its device. Returned.
    stream : None, int or stream object
        Device arrays only. None: the current stream of x's framework
        (``torch.cuda.current_stream()``, ``cupy.cuda.get_current_stream()``;
        the legacy default stream for other DLPack arrays). An int
        (``cudaStream_t``) or a framework stream object is used as given.

    Returns
    -------
    y : array, shape (N, K, O1[, O2[, O3]])
        In x's array type, on its device (NumPy for host input), x's dtype.

    Raises
    ------
    ValueError
        An invalid argument (convkit's InvalidArgument), with the library's
        message naming the parameter, its value and the rule.
    NotImplementedError
        Valid, but not served by the chosen algorithm (NotSupported).
    MemoryError
        An allocation failed.
    convkit.Error
        Any other failure (NoDevice, WorkspaceTooSmall, CUDA errors), with
        ``.status``.

    Notes
    -----
    Cross-correlation computes ::

        y[n,k,o] = b[k] + sum_{c,i} xe[n, g*C/G + c, o*s + i*dil - pad_lo] * w[k,c,i]

    and convolution the same with ``w[k, c, k_size-1-i]``, where ``xe`` is x
    extended by `boundary`. This is ``torch.nn.functional.conv{1,2,3}d``
    (with ``padding_mode`` as `boundary`) for ``mode='correlation'``.

    Host arrays are computed by the CPU reference, which accumulates in
    float64: the exact oracle the GPU paths are checked against, slow on
    purpose, not a fast CPU path. Host inputs of other real dtypes are
    converted to float64 (float32 stays float32 when every input is float32).

    Device arrays must share one float dtype. A non-contiguous input is
    made contiguous with one copy; `out` must already be contiguous (it is
    written in place, never copied). The call only enqueues work on the
    stream: convkit never synchronises and never switches to a stream of its
    own, so the result is ready when that stream says so.

    Examples
    --------
    >>> import numpy as np, convkit
    >>> x = np.arange(1.0, 6.0).reshape(1, 1, 5)
    >>> w = np.array([1.0, 2.0, 3.0]).reshape(1, 1, 3)
    >>> convkit.conv(x, w)
    array([[[14., 20., 26.]]])
    >>> convkit.conv(x, w, mode="convolution", padding="full")
    array([[[ 1.,  4., 10., 16., 22., 22., 15.]]])
    """
    algo = _choice("algorithm", algorithm, _ALGORITHMS)
    kind = _arrays._Kind.NUMPY if type(x) is np.ndarray else _arrays.kind_of(x)
    if kind == _arrays._Kind.NUMPY:
        return _conv_host(x, w, bias, algo, out, dict(stride=stride, padding=padding, dilation=dilation,
                                                      groups=groups, mode=mode, boundary=boundary))
    xc = _arrays.device_contiguous(x, kind)
    wc = _arrays.device_contiguous(w, _arrays.kind_of(w))
    bc = None if bias is None else _arrays.device_contiguous(bias, _arrays.kind_of(bias))
    spec = make_spec(_spatial_dims(xc.shape), stride=stride, padding=padding, dilation=dilation, groups=groups,
                     mode=mode, boundary=boundary, bias=bias is not None)
    if out is None:
        out = _arrays.empty_like_kind(xc, kind, spec.output_shape(tuple(xc.shape), tuple(wc.shape)))
    elif not _arrays.is_contiguous(out, _arrays.kind_of(out)):
        raise ValueError("out must be C-contiguous: convkit writes it in place and never copies it")
    _ck.conv(spec, xc, wc, bc, out, algo, _arrays.resolve_stream(stream, xc, kind))
    return out


def _conv_host(x, w, bias, algo, out, kw):
    torch_out = type(x) is not np.ndarray and _arrays.is_torch_cpu(x)
    dtype = _arrays.float_dtype(x, w, bias)
    xc = _arrays.host_array(x, dtype)
    wc = _arrays.host_array(w, dtype)
    bc = None if bias is None else _arrays.host_array(bias, dtype)
    spec = make_spec(_spatial_dims(xc.shape), bias=bias is not None, **kw)
    if out is None:
        y = np.empty(spec.output_shape(xc.shape, wc.shape), dtype=dtype)
    else:
        y = out.detach().numpy() if _arrays.is_torch_cpu(out) else out
        if not isinstance(y, np.ndarray) or not y.flags.c_contiguous:
            raise ValueError("out must be a C-contiguous array: convkit writes it in place and never copies it")
        if not y.flags.writeable:
            raise ValueError("out is read-only")
    _ck.conv(spec, xc, wc, bc, y, algo, 0)
    if out is not None:
        return out
    if torch_out:
        import torch
        return torch.from_numpy(y)
    return y


class Context(_ck.Context):
    """The context convkit runs calls on `device` and `stream` with: its settings.

    convkit keeps one C++ ``convkit::Context`` per (device, stream) for the
    life of the process; `conv`, the gradients and `choose_algorithm` on that
    device and stream use it, and every ``Context`` made for the pair is a
    handle on that one. Making a handle touches no device.

    Parameters
    ----------
    device : int
        CUDA device ordinal.
    stream : None, int or stream object
        As `choose_algorithm` takes it: None is the legacy default stream 0
        (what PyTorch's and CuPy's default streams are); pass the stream your
        calls run on (``torch.cuda.current_stream()``, a ``cupy.cuda.Stream``,
        an int ``cudaStream_t``) otherwise.

    Methods
    -------
    set_exact(on)
        ``convkit::Context::set_exact``: when on, ``algorithm='auto'`` never
        picks the FFT algorithm (its error is normwise, not per element) on
        this context; an explicit ``algorithm='fft'`` still runs it.
    exact()
        Whether it is on (default off).

    Examples
    --------
    >>> import convkit
    >>> ctx = convkit.Context()
    >>> ctx.exact()
    False
    """

    def __init__(self, device=0, stream=None):
        super().__init__(operator.index(device), 0 if stream is None else _arrays.resolve_stream(stream, None, None))


def _shapes_and_dtype(x, w, dtype):
    xs = [operator.index(d) for d in (x.shape if hasattr(x, "shape") else x)]
    ws = [operator.index(d) for d in (w.shape if hasattr(w, "shape") else w)]
    if dtype is None:
        dtype = _arrays.float_dtype(x if hasattr(x, "dtype") else None, w if hasattr(w, "dtype") else None)
    return xs, ws, _dtype_code(dtype)


def _query_spec(xs, kw):
    return make_spec(_spatial_dims(xs), stride=kw.pop("stride", 1), padding=kw.pop("padding", 0),
                     dilation=kw.pop("dilation", 1), groups=kw.pop("groups", 1),
                     mode=kw.pop("mode", "correlation"), boundary=kw.pop("boundary", "zeros"),
                     bias=kw.pop("bias", False))


def _no_extra(kw, fn):
    if kw:
        raise TypeError(f"{fn}() got unexpected keyword arguments: {', '.join(sorted(kw))}")


def output_shape(x, w, **spec):
    """The output shape of `conv` for these shapes (arrays or shape tuples) and keyword arguments.

    Validates like `conv` and raises its exceptions.

    Examples
    --------
    >>> import convkit
    >>> convkit.output_shape((2, 3, 32, 32), (8, 3, 3, 3), stride=2, padding=1)
    (2, 8, 16, 16)
    """
    xs, ws, _ = _shapes_and_dtype(x, w, np.float64)
    kw = dict(spec)
    s = _query_spec(xs, kw)
    _no_extra(kw, "output_shape")
    return tuple(s.output_shape(xs, ws))


def supports(x, w, *, algorithm="auto", dtype=None, direction="forward", **spec):
    """Whether `algorithm` can run this convolution, why not, and which kernel would.

    Parameters
    ----------
    x, w : array or tuple of int
        Arrays or their shapes, as `conv` takes them.
    algorithm : str
        As in `conv`. For 'auto': the variant of the algorithm Auto's cost
        model picks for a one-shot call on a default context.
    dtype : dtype, optional
        float32 or float64; default: the arrays' (float64 for shapes).
    direction : {'forward', 'backward_data', 'backward_filter'}
        Which pass of the convolution (x and w are the forward shapes in
        every direction).
    **spec
        stride, padding, dilation, groups, mode, boundary, bias as in `conv`.

    Returns
    -------
    ok : bool
    reason : str
        Why not ('' when ok).
    variant : str
        The kernel or library path that would serve it (when ok).

    Raises
    ------
    ValueError
        The problem itself is invalid.

    Examples
    --------
    >>> import convkit
    >>> convkit.supports((1, 1, 32), (1, 1, 3), algorithm="direct")[0]
    True
    """
    xs, ws, dt = _shapes_and_dtype(x, w, dtype)
    kw = dict(spec)
    s = _query_spec(xs, kw)
    _no_extra(kw, "supports")
    return tuple(_ck.supports(s, xs, ws, dt, _choice("algorithm", algorithm, _ALGORITHMS),
                              _choice("direction", direction, _DIRECTIONS)))


def workspace_bytes(x, w, *, algorithm="auto", dtype=None, direction="forward", **spec):
    """Device workspace bytes `algorithm` needs for this convolution (0 for the reference).

    Arguments as for `supports`. Raises ValueError for an invalid problem
    and NotImplementedError when the algorithm does not serve it.

    Examples
    --------
    >>> import convkit
    >>> convkit.workspace_bytes((1, 1, 32), (1, 1, 3), algorithm="reference")
    0
    """
    xs, ws, dt = _shapes_and_dtype(x, w, dtype)
    kw = dict(spec)
    s = _query_spec(xs, kw)
    _no_extra(kw, "workspace_bytes")
    return int(_ck.workspace_bytes(s, xs, ws, dt, _choice("algorithm", algorithm, _ALGORITHMS),
                                   _choice("direction", direction, _DIRECTIONS)))


def choose_algorithm(x, w, *, dtype=None, for_plan=False, device=0, stream=None, direction="forward", **spec):
    """What ``algorithm='auto'`` chooses for this convolution, and why.

    Arguments as for `supports`; `device` and `stream` (an int or stream
    object; None is the legacy default stream) select the context the
    choice is made for. Returns an object whose ``str()`` is the library's
    ``AlgorithmChoice::explain()`` table, with ``chosen`` and ``candidates``.
    The cost model needs no device; with tuning (a C++ context setting) a
    device is timed, and convkit.Error with status NoDevice is raised
    without one.

    Examples
    --------
    >>> import convkit
    >>> print(convkit.choose_algorithm((1, 1, 4096), (1, 1, 9), dtype="float32"))  # doctest: +ELLIPSIS
    Algorithm::Auto chose ... (cost model, costs per one-shot call)
    ...
    """
    xs, ws, dt = _shapes_and_dtype(x, w, dtype)
    kw = dict(spec)
    s = _query_spec(xs, kw)
    _no_extra(kw, "choose_algorithm")
    h = 0 if stream is None else _arrays.resolve_stream(stream, None, None)
    return _ck.choose_algorithm(s, xs, ws, dt, bool(for_plan), int(device), h,
                                _choice("direction", direction, _DIRECTIONS))
