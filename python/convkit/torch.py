"""convkit as PyTorch operators: differentiable, traceable by torch.compile, usable under DDP.

``import convkit.torch`` (and only that: ``import convkit`` never imports
PyTorch) registers five custom operators in the ``convkit`` namespace with
``torch.library.custom_op``:

====================================  =======================================================
``torch.ops.convkit.conv``            the forward convolution (``convkit.conv``)
``torch.ops.convkit.conv_backward_data``    its gradient w.r.t. the input
``torch.ops.convkit.conv_backward_filter``  its gradient w.r.t. the weights
``torch.ops.convkit.conv_backward_bias``    its gradient w.r.t. the bias
``torch.ops.convkit.conv_transpose``  the transposed convolution (``convkit.conv_transpose``)
====================================  =======================================================

Each has a fake (meta) implementation that computes only the output shape
(through the C++ library's shape rules), so ``torch.compile`` traces it
without a graph break; ``conv`` and ``conv_transpose`` have autograd formulas
built from the other operators. One kernel serves every device: CPU tensors
run convkit's CPU reference (float64 accumulation: the exact oracle, not a
fast CPU path), CUDA tensors the GPU algorithms, zero-copy, on
``torch.cuda.current_stream()``. Outputs are allocated with ``torch.empty``
on the input's device; nothing synchronises and no other stream is used.

On top of the operators: ``conv1d/2d/3d`` and ``conv_transpose1d/2d/3d``
with the signatures and results of ``torch.nn.functional``, and the modules
``Conv1d/2d/3d`` (subclasses of ``torch.nn.Conv1d/2d/3d`` that load their
state dicts unchanged). convkit's extras are keyword arguments: ``mode``
(``"correlation"``, PyTorch's convolution, or ``"convolution"``, the kernel
flipped), ``boundary`` (``"zeros"``, ``"reflect"``, ``"replicate"``,
``"circular"``, ``"symmetric"``) and ``algorithm`` (as in ``convkit.conv``).

Example
-------
>>> import torch, convkit.torch as ct
>>> x = torch.arange(1.0, 6.0).reshape(1, 1, 5)
>>> w = torch.tensor([[[1.0, 2.0, 3.0]]])
>>> ct.conv1d(x, w)
tensor([[[14., 20., 26.]]])
"""

import atexit
import operator
from typing import Optional

import torch
from torch import Tensor

if not hasattr(torch.library, "custom_op") or not hasattr(torch.library, "register_fake"):
    raise ImportError(f"convkit.torch needs PyTorch >= 2.4 (torch.library.custom_op); found {torch.__version__}")

from . import _convkit as _ck
from . import _core
from ._core import conv as _conv, make_spec, output_shape as _output_shape
from ._grad import (conv_backward_bias as _conv_backward_bias, conv_backward_data as _conv_backward_data,
                    conv_backward_filter as _conv_backward_filter, conv_transpose as _conv_transpose)

# The operators registered below keep this module (and through it convkit's
# spec cache) alive in PyTorch's registry until the interpreter is torn down,
# past nanobind's leak check: empty the cache first.
atexit.register(_core._SPEC_CACHE.clear)

__all__ = ["Conv1d", "Conv2d", "Conv3d", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d"]

# ---------------------------------------------------------------------------
# The operators. Spec arguments travel as plain ints, lists and strings (what
# a custom op's schema can carry): stride / dilation one int per dimension,
# padding a flattened list of (lo, hi) pairs, or padding_name ("same",
# "valid", "full") when it is non-empty.


def _pairs(padding):
    return tuple((int(padding[i]), int(padding[i + 1])) for i in range(0, len(padding), 2))


def _spec_kw(stride, padding, padding_name, dilation, groups, mode, boundary):
    # Tuples, so that convkit's spec cache serves repeated calls.
    return dict(stride=tuple(int(s) for s in stride), padding=padding_name or _pairs(padding),
                dilation=tuple(int(d) for d in dilation), groups=int(groups), mode=mode, boundary=boundary)


def _shape(t):
    return tuple(int(d) for d in t.shape)


def _same_dtype(op, **tensors):
    dtypes = {name: t.dtype for name, t in tensors.items() if t is not None}
    if len(set(dtypes.values())) > 1:
        what = ", ".join(f"{n} {str(d).replace('torch.', '')}" for n, d in dtypes.items())
        raise ValueError(f"convkit.torch.{op}: the tensors must share one dtype; got {what}")


@torch.library.custom_op("convkit::conv", mutates_args=())
def _conv_op(input: Tensor, weight: Tensor, bias: Optional[Tensor], stride: list[int], padding: list[int],
             padding_name: str, dilation: list[int], groups: int, mode: str, boundary: str,
             algorithm: str) -> Tensor:
    _same_dtype("conv", input=input, weight=weight, bias=bias)
    kw = _spec_kw(stride, padding, padding_name, dilation, groups, mode, boundary)
    y = torch.empty(_output_shape(_shape(input), _shape(weight), **kw), dtype=input.dtype, device=input.device)
    _conv(input, weight, bias, algorithm=algorithm, out=y, **kw)
    return y


@_conv_op.register_fake
def _(input, weight, bias, stride, padding, padding_name, dilation, groups, mode, boundary, algorithm):
    _same_dtype("conv", input=input, weight=weight, bias=bias)
    kw = _spec_kw(stride, padding, padding_name, dilation, groups, mode, boundary)
    return input.new_empty(_output_shape(_shape(input), _shape(weight), **kw))


@torch.library.custom_op("convkit::conv_backward_data", mutates_args=())
def _conv_backward_data_op(input_size: list[int], weight: Tensor, grad_output: Tensor, stride: list[int],
                           padding: list[int], padding_name: str, dilation: list[int], groups: int, mode: str,
                           boundary: str, algorithm: str) -> Tensor:
    _same_dtype("conv_backward_data", weight=weight, grad_output=grad_output)
    dx = torch.empty([int(s) for s in input_size], dtype=grad_output.dtype, device=grad_output.device)
    _conv_backward_data(dx.shape, weight, grad_output, algorithm=algorithm, out=dx,
                        **_spec_kw(stride, padding, padding_name, dilation, groups, mode, boundary))
    return dx


@_conv_backward_data_op.register_fake
def _(input_size, weight, grad_output, stride, padding, padding_name, dilation, groups, mode, boundary, algorithm):
    _same_dtype("conv_backward_data", weight=weight, grad_output=grad_output)
    return grad_output.new_empty(input_size)


@torch.library.custom_op("convkit::conv_backward_filter", mutates_args=())
def _conv_backward_filter_op(input: Tensor, weight_size: list[int], grad_output: Tensor, stride: list[int],
                             padding: list[int], padding_name: str, dilation: list[int], groups: int, mode: str,
                             boundary: str, algorithm: str) -> Tensor:
    _same_dtype("conv_backward_filter", input=input, grad_output=grad_output)
    dw = torch.empty([int(s) for s in weight_size], dtype=input.dtype, device=input.device)
    _conv_backward_filter(input, dw.shape, grad_output, algorithm=algorithm, out=dw,
                          **_spec_kw(stride, padding, padding_name, dilation, groups, mode, boundary))
    return dw


@_conv_backward_filter_op.register_fake
def _(input, weight_size, grad_output, stride, padding, padding_name, dilation, groups, mode, boundary, algorithm):
    _same_dtype("conv_backward_filter", input=input, grad_output=grad_output)
    return input.new_empty(weight_size)


@torch.library.custom_op("convkit::conv_backward_bias", mutates_args=())
def _conv_backward_bias_op(grad_output: Tensor) -> Tensor:
    db = torch.empty((grad_output.shape[1],), dtype=grad_output.dtype, device=grad_output.device)
    _conv_backward_bias(grad_output, out=db)
    return db


@_conv_backward_bias_op.register_fake
def _(grad_output):
    return grad_output.new_empty((grad_output.shape[1],))


def _transpose_shape(input, weight, bias, stride, padding, output_padding, groups, dilation, mode, boundary):
    xs, ws = _shape(input), _shape(weight)
    spec = make_spec(max(len(xs) - 2, 0), bias=bias is not None,
                     **_spec_kw(stride, padding, "", dilation, groups, mode, boundary))
    return _ck.conv_transpose_output_shape(spec, list(xs), list(ws), [int(p) for p in output_padding])


@torch.library.custom_op("convkit::conv_transpose", mutates_args=())
def _conv_transpose_op(input: Tensor, weight: Tensor, bias: Optional[Tensor], stride: list[int],
                       padding: list[int], output_padding: list[int], groups: int, dilation: list[int], mode: str,
                       boundary: str, algorithm: str) -> Tensor:
    _same_dtype("conv_transpose", input=input, weight=weight, bias=bias)
    shape = _transpose_shape(input, weight, bias, stride, padding, output_padding, groups, dilation, mode, boundary)
    y = torch.empty(shape, dtype=input.dtype, device=input.device)
    kw = _spec_kw(stride, padding, "", dilation, groups, mode, boundary)
    _conv_transpose(input, weight, bias, output_padding=list(output_padding), algorithm=algorithm, out=y, **kw)
    return y


@_conv_transpose_op.register_fake
def _(input, weight, bias, stride, padding, output_padding, groups, dilation, mode, boundary, algorithm):
    _same_dtype("conv_transpose", input=input, weight=weight, bias=bias)
    return input.new_empty(_transpose_shape(input, weight, bias, stride, padding, output_padding, groups,
                                            dilation, mode, boundary))


# Autograd. conv: y = T(w)·x + b, so dx = T(w)ᵀ·dy (backward-data), dw from
# x and dy (backward-filter), db = Σ dy. conv_transpose: y = T(w)ᵀ·x + b with
# T the forward map of the same spec from y's shape to x's, so dx = T(w)·dy
# (the forward conv), and dw is backward-filter with the roles of input and
# output swapped (T(w)·dy against x).

_NO_GRAD_SPEC = (None,) * 8  # stride, padding, padding_name / output_padding, dilation, groups, mode, boundary, algorithm


def _conv_setup_context(ctx, inputs, output):
    input, weight, bias, *spec = inputs
    need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
    ctx.save_for_backward(input if need_w else None, weight if need_x else None)
    ctx.input_size = list(input.shape)
    ctx.weight_size = list(weight.shape)
    ctx.has_bias = bias is not None
    ctx.spec = spec


def _conv_backward(ctx, grad):
    input, weight = ctx.saved_tensors
    dx = dw = db = None
    if ctx.needs_input_grad[0]:
        dx = _conv_backward_data_op(ctx.input_size, weight, grad, *ctx.spec)
    if ctx.needs_input_grad[1]:
        dw = _conv_backward_filter_op(input, ctx.weight_size, grad, *ctx.spec)
    if ctx.has_bias and ctx.needs_input_grad[2]:
        db = _conv_backward_bias_op(grad)
    return (dx, dw, db) + _NO_GRAD_SPEC


_conv_op.register_autograd(_conv_backward, setup_context=_conv_setup_context)


def _transpose_setup_context(ctx, inputs, output):
    input, weight, bias, stride, padding, output_padding, groups, dilation, mode, boundary, algorithm = inputs
    need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
    ctx.save_for_backward(input if need_w else None, weight if need_x else None)
    ctx.weight_size = list(weight.shape)
    ctx.has_bias = bias is not None
    ctx.spec = (stride, padding, "", dilation, groups, mode, boundary, algorithm)


def _transpose_backward(ctx, grad):
    input, weight = ctx.saved_tensors
    dx = dw = db = None
    if ctx.needs_input_grad[0]:
        dx = _conv_op(grad, weight, None, *ctx.spec)
    if ctx.needs_input_grad[1]:
        dw = _conv_backward_filter_op(grad, ctx.weight_size, input, *ctx.spec)
    if ctx.has_bias and ctx.needs_input_grad[2]:
        db = _conv_backward_bias_op(grad)
    return (dx, dw, db) + _NO_GRAD_SPEC


_conv_transpose_op.register_autograd(_transpose_backward, setup_context=_transpose_setup_context)


# The gradient operators are bilinear, so their own gradients (double
# backward: gradient penalties, Hessian-vector products) are the other
# operators again. backward_data dx = T(w)ᵀ·dy: d(dy) = T(w)·g (the forward
# conv), d(w) = backward-filter of g against dy. backward_filter dw(x, dy),
# with <G, dw> = <T(G)·x, dy>: d(x) = T(G)ᵀ·dy (backward-data), d(dy) = T(G)·x
# (the forward conv). backward_bias db = Σ dy: d(dy) is g broadcast.

def _bwd_data_setup_context(ctx, inputs, output):
    input_size, weight, grad_output, *spec = inputs
    need_w, need_dy = ctx.needs_input_grad[1], ctx.needs_input_grad[2]
    ctx.save_for_backward(weight if need_dy else None, grad_output if need_w else None)
    ctx.weight_size = list(weight.shape)
    ctx.spec = spec


def _bwd_data_backward(ctx, g):
    weight, grad_output = ctx.saved_tensors
    d_w = d_dy = None
    if ctx.needs_input_grad[1]:
        d_w = _conv_backward_filter_op(g, ctx.weight_size, grad_output, *ctx.spec)
    if ctx.needs_input_grad[2]:
        d_dy = _conv_op(g, weight, None, *ctx.spec)
    return (None, d_w, d_dy) + _NO_GRAD_SPEC


_conv_backward_data_op.register_autograd(_bwd_data_backward, setup_context=_bwd_data_setup_context)


def _bwd_filter_setup_context(ctx, inputs, output):
    input, weight_size, grad_output, *spec = inputs
    need_x, need_dy = ctx.needs_input_grad[0], ctx.needs_input_grad[2]
    ctx.save_for_backward(input if need_dy else None, grad_output if need_x else None)
    ctx.input_size = list(input.shape)
    ctx.spec = spec


def _bwd_filter_backward(ctx, g):
    input, grad_output = ctx.saved_tensors
    d_x = d_dy = None
    if ctx.needs_input_grad[0]:
        d_x = _conv_backward_data_op(ctx.input_size, g, grad_output, *ctx.spec)
    if ctx.needs_input_grad[2]:
        d_dy = _conv_op(input, g, None, *ctx.spec)
    return (d_x, None, d_dy) + _NO_GRAD_SPEC


_conv_backward_filter_op.register_autograd(_bwd_filter_backward, setup_context=_bwd_filter_setup_context)


def _bwd_bias_setup_context(ctx, inputs, output):
    ctx.grad_output_shape = inputs[0].shape


def _bwd_bias_backward(ctx, g):
    shape = ctx.grad_output_shape
    return g.reshape((1, -1) + (1,) * (len(shape) - 2)).expand(shape)


_conv_backward_bias_op.register_autograd(_bwd_bias_backward, setup_context=_bwd_bias_setup_context)


# ---------------------------------------------------------------------------
# torch.nn.functional's signatures: arguments normalised into the operators'
# plain lists (no convolution arithmetic: the C++ library validates them).


def _per_dim(name, value, nd):
    try:
        return [operator.index(value)] * nd
    except TypeError:
        pass
    try:
        v = [operator.index(e) for e in value]
    except TypeError:
        raise TypeError(f"{name} must be an int or a tuple of {nd} ints; got {value!r}") from None
    if len(v) == 1:
        return v * nd
    if len(v) != nd:
        raise ValueError(f"{name} = {value!r}: expected an int or {nd} values, one per spatial dimension")
    return v


def _padding_args(padding, nd, fn):
    """(flattened (lo, hi) pairs, name): an int, one int or (lo, hi) pair per dimension, or a name."""
    if isinstance(padding, str):
        return [], padding
    try:
        p = operator.index(padding)
        return [p, p] * nd, ""
    except TypeError:
        pass
    try:
        items = list(padding)
    except TypeError:
        raise TypeError(f"{fn}: padding must be an int, a tuple, 'valid' or 'same'; got {padding!r}") from None
    if len(items) == 1:
        items = items * nd
    if len(items) != nd:
        raise ValueError(f"{fn}: padding = {padding!r}: expected an int or {nd} entries, one per spatial dimension")
    flat = []
    for item in items:
        try:
            p = operator.index(item)
            flat += [p, p]
            continue
        except TypeError:
            pass
        try:
            lo, hi = item
            flat += [operator.index(lo), operator.index(hi)]
        except (TypeError, ValueError):
            raise TypeError(f"{fn}: padding entries must be ints or (lo, hi) pairs; got {item!r}") from None
    return flat, ""


def _batched(input, nd, fn):
    """input with a batch dimension, and whether one was added (torch accepts unbatched input)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: input must be a torch.Tensor; got {type(input).__name__}")
    if input.dim() == nd + 2:
        return input, False
    if input.dim() == nd + 1:
        return input.unsqueeze(0), True
    raise ValueError(f"{fn}: expected a {nd + 1}-D (unbatched) or {nd + 2}-D (batched) input; "
                     f"got shape {tuple(input.shape)}")


def _conv_nd(nd, fn, input, weight, bias, stride, padding, dilation, groups, mode, boundary, algorithm):
    x, unbatched = _batched(input, nd, fn)
    pads, name = _padding_args(padding, nd, fn)
    y = _conv_op(x, weight, bias, _per_dim("stride", stride, nd), pads, name, _per_dim("dilation", dilation, nd),
                 operator.index(groups), mode, boundary, algorithm)
    return y.squeeze(0) if unbatched else y


def _conv_transpose_nd(nd, fn, input, weight, bias, stride, padding, output_padding, groups, dilation, mode,
                       boundary, algorithm):
    x, unbatched = _batched(input, nd, fn)
    if isinstance(padding, str):
        raise ValueError(f"{fn}: padding = {padding!r}: the transposed convolution takes an int or a tuple "
                         "(as torch.nn.functional's does)")
    pads, _ = _padding_args(padding, nd, fn)
    y = _conv_transpose_op(x, weight, bias, _per_dim("stride", stride, nd), pads,
                           _per_dim("output_padding", output_padding, nd), operator.index(groups),
                           _per_dim("dilation", dilation, nd), mode, boundary, algorithm)
    return y.squeeze(0) if unbatched else y


_CONV_DOC = """{d}-D convolution: ``torch.nn.functional.conv{d}d``'s arguments and result, computed by convkit.

    Parameters
    ----------
    input : Tensor, shape (N, C, {dims}) or unbatched (C, {dims})
    weight : Tensor, shape (K, C/groups, {kdims})
    bias : Tensor, shape (K,), optional
    stride, dilation : int or tuple of {d} ints
    padding : int, tuple of {d} ints or (lo, hi) pairs, 'valid' or 'same'
    groups : int
    mode : {{'correlation', 'convolution'}}
        'correlation' is PyTorch's convolution; 'convolution' flips the kernel.
    boundary : {{'zeros', 'reflect', 'replicate', 'circular', 'symmetric'}}
        How the input extends into the padding (PyTorch's padding_mode).
    algorithm : str
        As in ``convkit.conv`` (CUDA tensors; CPU tensors run the reference).

    Differentiable in input, weight and bias (``torch.ops.convkit.conv`` and
    its backward operators), traceable by torch.compile without a graph
    break.
    """

_TRANSPOSE_DOC = """{d}-D transposed convolution: ``torch.nn.functional.conv_transpose{d}d``'s arguments and result.

    Parameters
    ----------
    input : Tensor, shape (N, C_in, {dims}) or unbatched (C_in, {dims})
    weight : Tensor, shape (C_in, C_out/groups, {kdims})
    bias : Tensor, shape (C_out,), optional
    stride, dilation, output_padding : int or tuple of {d} ints
    padding : int, or a tuple of {d} ints or (lo, hi) pairs
    groups : int
    mode, boundary, algorithm : convkit's extensions, as in ``conv{d}d``
        (the transposed convolution is the adjoint of that forward map).

    Differentiable in input, weight and bias (``torch.ops.convkit.conv_transpose``).
    """


def _doc(template, d):
    dims = ", ".join("DHW"[3 - d:])
    kdims = ", ".join("k" + c for c in "DHW"[3 - d:])
    return template.format(d=d, dims=dims, kdims=kdims)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, mode="correlation",
           boundary="zeros", algorithm="auto"):
    return _conv_nd(1, "conv1d", input, weight, bias, stride, padding, dilation, groups, mode, boundary, algorithm)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, mode="correlation",
           boundary="zeros", algorithm="auto"):
    return _conv_nd(2, "conv2d", input, weight, bias, stride, padding, dilation, groups, mode, boundary, algorithm)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, mode="correlation",
           boundary="zeros", algorithm="auto"):
    return _conv_nd(3, "conv3d", input, weight, bias, stride, padding, dilation, groups, mode, boundary, algorithm)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, *,
                     mode="correlation", boundary="zeros", algorithm="auto"):
    return _conv_transpose_nd(1, "conv_transpose1d", input, weight, bias, stride, padding, output_padding, groups,
                              dilation, mode, boundary, algorithm)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, *,
                     mode="correlation", boundary="zeros", algorithm="auto"):
    return _conv_transpose_nd(2, "conv_transpose2d", input, weight, bias, stride, padding, output_padding, groups,
                              dilation, mode, boundary, algorithm)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, *,
                     mode="correlation", boundary="zeros", algorithm="auto"):
    return _conv_transpose_nd(3, "conv_transpose3d", input, weight, bias, stride, padding, output_padding, groups,
                              dilation, mode, boundary, algorithm)


for _d, _f in ((1, conv1d), (2, conv2d), (3, conv3d)):
    _f.__doc__ = _doc(_CONV_DOC, _d)
for _d, _f in ((1, conv_transpose1d), (2, conv_transpose2d), (3, conv_transpose3d)):
    _f.__doc__ = _doc(_TRANSPOSE_DOC, _d)
del _d, _f


# ---------------------------------------------------------------------------
# Modules: torch.nn.ConvNd with convkit's forward. The parameters and state
# dict are torch's own (weight, bias), so a torch.nn.Conv2d's state dict
# loads unchanged, and the other way round.

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvkitConv:
    _functional = None  # conv1d / conv2d / conv3d

    def _convkit_init(self, mode, boundary, algorithm):
        if boundary is None:
            boundary = self.padding_mode  # PyTorch's padding_mode names are convkit's boundary names
        elif self.padding_mode != "zeros" and boundary != self.padding_mode:
            raise ValueError(f"padding_mode={self.padding_mode!r} and boundary={boundary!r} disagree: "
                             "give one of them")
        self.mode = mode
        self.boundary = boundary
        self.algorithm = algorithm

    def _conv_forward(self, input, weight, bias):
        return type(self)._functional(input, weight, bias, self.stride, self.padding, self.dilation, self.groups,
                                      mode=self.mode, boundary=self.boundary, algorithm=self.algorithm)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)

    def extra_repr(self):
        s = super().extra_repr()
        if self.mode != "correlation":
            s += f", mode={self.mode!r}"
        if self.boundary != self.padding_mode:
            s += f", boundary={self.boundary!r}"
        if self.algorithm != "auto":
            s += f", algorithm={self.algorithm!r}"
        return s


_MODULE_DOC = """``torch.nn.Conv{d}d`` computed by convkit (``convkit.torch.conv{d}d``).

    The constructor takes torch.nn.Conv{d}d's arguments, plus keywords
    ``mode`` ('correlation' or 'convolution'), ``boundary`` (convkit's name
    for padding_mode; default: padding_mode, whose four names convkit shares;
    'symmetric' is convkit's own) and ``algorithm`` (as in ``convkit.conv``).
    The parameters are torch's (``weight``, ``bias``): a torch.nn.Conv{d}d's
    state dict loads unchanged.
    """


class Conv1d(_ConvkitConv, torch.nn.Conv1d):
    _functional = staticmethod(conv1d)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None, *, mode="correlation", boundary=None,
                 algorithm="auto"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)
        self._convkit_init(mode, boundary, algorithm)


class Conv2d(_ConvkitConv, torch.nn.Conv2d):
    _functional = staticmethod(conv2d)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None, *, mode="correlation", boundary=None,
                 algorithm="auto"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)
        self._convkit_init(mode, boundary, algorithm)


class Conv3d(_ConvkitConv, torch.nn.Conv3d):
    _functional = staticmethod(conv3d)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None, *, mode="correlation", boundary=None,
                 algorithm="auto"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)
        self._convkit_init(mode, boundary, algorithm)


for _d, _c in ((1, Conv1d), (2, Conv2d), (3, Conv3d)):
    _c.__doc__ = _MODULE_DOC.format(d=_d)
del _d, _c
