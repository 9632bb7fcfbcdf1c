"""The gradients of `conv` and the transposed convolution, computed where the arrays live.

Argument order and names follow PyTorch: ``torch.nn.grad.conv{1,2,3}d_input``
(`conv_backward_data`), ``torch.nn.grad.conv{1,2,3}d_weight``
(`conv_backward_filter`) and ``torch.nn.functional.conv_transpose{1,2,3}d``
(`conv_transpose`), with convkit's extras (mode, boundary, algorithm) as
keyword arguments. Every rule and message is the C++ library's.
"""

import operator

import numpy as np

from . import _arrays
from . import _convkit as _ck
from ._core import _ALGORITHMS, _choice, _spatial_dims, make_spec


def _beta(beta, out):
    if beta not in (0, 1):
        raise ValueError(f"beta = {beta!r}: must be 0 (overwrite out) or 1 (accumulate into out)")
    if beta == 1 and out is None:
        raise ValueError("beta = 1 accumulates into out: pass out=")
    return float(beta)


def _operands(lead, *others):
    """(kind, [lead, *others] ready for the extension, NumPy dtype or None).

    Host inputs (NumPy, CPU tensors, lists) become C-contiguous NumPy arrays
    of one float dtype; device inputs are made contiguous in their framework
    with at most one copy each.
    """
    kind = _arrays._Kind.NUMPY if type(lead) is np.ndarray else _arrays.kind_of(lead)
    if kind == _arrays._Kind.NUMPY:
        dtype = _arrays.float_dtype(lead, *others)
        return kind, [None if a is None else _arrays.host_array(a, dtype) for a in (lead, *others)], dtype
    return kind, [None if a is None else _arrays.device_contiguous(a, _arrays.kind_of(a))
                  for a in (lead, *others)], None


def _output(kind, lead, like, shape, dtype, out):
    """`out` checked (C-contiguous, writable), or a new array of `shape` in lead's type and device."""
    if out is None:
        if kind == _arrays._Kind.NUMPY:
            return np.empty(tuple(shape), dtype=dtype), None
        return _arrays.empty_like_kind(like, kind, shape), None
    if kind == _arrays._Kind.NUMPY:
        y = out.detach().numpy() if _arrays.is_torch_cpu(out) else out
        if not isinstance(y, np.ndarray) or not y.flags.c_contiguous:
            raise ValueError("out must be a C-contiguous array: convkit writes it in place and never copies it")
        if not y.flags.writeable:
            raise ValueError("out is read-only")
        return y, out
    if not _arrays.is_contiguous(out, _arrays.kind_of(out)):
        raise ValueError("out must be C-contiguous: convkit writes it in place and never copies it")
    return out, out


def _result(kind, lead, y, out):
    """What a call returns: `out` as given, else y (a CPU tensor for CPU-tensor input)."""
    if out is not None:
        return out
    if kind == _arrays._Kind.NUMPY and type(lead) is not np.ndarray and _arrays.is_torch_cpu(lead):
        import torch
        return torch.from_numpy(y)
    return y


def _stream(kind, lead, stream):
    return 0 if kind == _arrays._Kind.NUMPY else _arrays.resolve_stream(stream, lead, kind)


def _size(name, value):
    try:
        return [operator.index(v) for v in value]
    except TypeError:
        raise TypeError(f"{name} must be a sequence of ints (a shape); got {value!r}") from None


def conv_backward_data(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1, *,
                       mode="correlation", boundary="zeros", algorithm="auto", out=None, beta=0, stream=None):
    """Gradient of `conv` with respect to its input: ``dx = Tᵀ·grad_output``.

    The argument order of ``torch.nn.grad.conv2d_input`` (any of 1 to 3
    spatial dimensions). `input_size` (the full input shape ``(N, C, D...)``)
    resolves the stride ambiguity: it must give `grad_output`'s shape under
    the spec. Boundary modes fold the adjoint back onto the input elements
    they read.

    Parameters
    ----------
    input_size : sequence of int
        Shape of the forward input x.
    weight : array, shape (K, C/groups, k...)
    grad_output : array, shape (N, K, O...)
        ∂L/∂y, in weight's array type and on its device.
    stride, padding, dilation, groups, mode, boundary, algorithm
        As in `conv`.
    out : array, optional
        Written in place (C-contiguous, of `input_size`) and returned.
    beta : {0, 1}
        0 overwrites `out` without reading it; 1 adds the gradient to it
        (frameworks sum gradients), and needs `out`.
    stream : as in `conv`.

    Returns
    -------
    grad_input : array of `input_size`, in grad_output's array type and device.

    Examples
    --------
    >>> import numpy as np, convkit
    >>> w = np.array([1.0, 2.0, 3.0]).reshape(1, 1, 3)
    >>> convkit.conv_backward_data((1, 1, 5), w, np.ones((1, 1, 3)))
    array([[[1., 3., 6., 5., 3.]]])
    """
    algo = _choice("algorithm", algorithm, _ALGORITHMS)
    b = _beta(beta, out)
    xs = _size("input_size", input_size)
    kind, (dy, w), dtype = _operands(grad_output, weight)
    spec = make_spec(_spatial_dims(xs), stride=stride, padding=padding, dilation=dilation, groups=groups,
                     mode=mode, boundary=boundary)
    y, given = _output(kind, grad_output, dy, xs, dtype, out)
    _ck.conv_backward_data(spec, dy, w, y, algo, b, _stream(kind, dy, stream))
    return _result(kind, grad_output, y, given)


def conv_backward_filter(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1, *,
                         mode="correlation", boundary="zeros", algorithm="auto", out=None, beta=0, stream=None):
    """Gradient of `conv` with respect to its weights.

    The argument order of ``torch.nn.grad.conv2d_weight``:
    ``dw[k,c,i] = Σ_n Σ_o grad_output[n,k,o] · xe[n, g·C/G + c, o·s + i·dil − lo]``
    (the flipped tap under ``mode='convolution'``), xe being `input`
    extended by `boundary`.

    Parameters
    ----------
    input : array, shape (N, C, D...)
    weight_size : sequence of int
        Shape of the weights ``(K, C/groups, k...)``.
    grad_output : array, shape (N, K, O...)
    out, beta, stream, and the spec arguments : as in `conv_backward_data`.

    Returns
    -------
    grad_weight : array of `weight_size`, in input's array type and device.

    Examples
    --------
    >>> import numpy as np, convkit
    >>> x = np.arange(1.0, 6.0).reshape(1, 1, 5)
    >>> convkit.conv_backward_filter(x, (1, 1, 3), np.ones((1, 1, 3)))
    array([[[ 6.,  9., 12.]]])
    """
    algo = _choice("algorithm", algorithm, _ALGORITHMS)
    b = _beta(beta, out)
    ws = _size("weight_size", weight_size)
    kind, (x, dy), dtype = _operands(input, grad_output)
    spec = make_spec(_spatial_dims(x.shape), stride=stride, padding=padding, dilation=dilation, groups=groups,
                     mode=mode, boundary=boundary)
    y, given = _output(kind, input, x, ws, dtype, out)
    _ck.conv_backward_filter(spec, x, dy, y, algo, b, _stream(kind, x, stream))
    return _result(kind, input, y, given)


def conv_backward_bias(grad_output, *, out=None, beta=0, stream=None):
    """Gradient of `conv` with respect to its bias: ``db[k] = Σ_n Σ_o grad_output[n, k, o]``.

    One fixed-order reduction (bit-identical run to run); host arrays run
    the reference's, in float64 accumulation.

    Examples
    --------
    >>> import numpy as np, convkit
    >>> convkit.conv_backward_bias(np.ones((2, 3, 4)))
    array([8., 8., 8.])
    """
    b = _beta(beta, out)
    kind, (dy,), dtype = _operands(grad_output)
    y, given = _output(kind, grad_output, dy, (dy.shape[1],) if len(dy.shape) >= 2 else (0,), dtype, out)
    _ck.conv_backward_bias(dy, y, b, _stream(kind, dy, stream))
    return _result(kind, grad_output, y, given)


def _per_dim(name, value, ndim):
    try:
        v = operator.index(value)
        return [v] * ndim
    except TypeError:
        pass
    try:
        return [operator.index(e) for e in value]
    except TypeError:
        raise TypeError(f"{name} must be an int or a sequence of ints; got {value!r}") from None


def conv_transpose(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, *,
                   mode="correlation", boundary="zeros", algorithm="auto", out=None, stream=None):
    """The transposed convolution (decoders, upsampling): PyTorch's ``conv_transpose{1,2,3}d``.

    The argument order and meaning of ``torch.nn.functional.conv_transpose2d``
    (any of 1 to 3 spatial dimensions): `weight` is ``(C_in, C_out/groups,
    k...)``, the output has ``(O − 1)·stride − 2·padding + dilation·(k − 1)
    + output_padding + 1`` samples per dimension. It is the adjoint of the
    forward `conv` with the same stride, padding, dilation and groups (from
    the output's shape to the input's), plus the bias per output channel.
    `mode` and `boundary` other than the defaults are convkit's extensions:
    the adjoint of that forward map.

    Parameters
    ----------
    input : array, shape (N, C_in, O...)
    weight : array, shape (C_in, C_out/groups, k...)
    bias : array, shape (C_out,), optional
    stride, padding, dilation, groups : as in `conv` (padding also as a
        sequence of (lo, hi) pairs).
    output_padding : int or sequence of int
        Extra samples at the high end of each dimension, each in
        ``[0, stride)``: which of the output sizes that give `input`'s size
        is meant.
    mode, boundary, algorithm, out, stream : as in `conv`.

    Examples
    --------
    >>> import numpy as np, convkit
    >>> x = np.array([1.0, 2.0]).reshape(1, 1, 2)
    >>> w = np.array([1.0, 10.0, 100.0]).reshape(1, 1, 3)
    >>> convkit.conv_transpose(x, w, stride=2)
    array([[[  1.,  10., 102.,  20., 200.]]])
    """
    algo = _choice("algorithm", algorithm, _ALGORITHMS)
    kind, (x, w, b), dtype = _operands(input, weight, bias)
    nd = _spatial_dims(x.shape)
    spec = make_spec(nd, stride=stride, padding=padding, dilation=dilation, groups=groups, mode=mode,
                     boundary=boundary, bias=bias is not None)
    shape = _ck.conv_transpose_output_shape(spec, list(x.shape), list(w.shape),
                                            _per_dim("output_padding", output_padding, nd))
    y, given = _output(kind, input, x, shape, dtype, out)
    _ck.conv_transpose(spec, x, w, b, y, algo, _stream(kind, x, stream))
    return _result(kind, input, y, given)
