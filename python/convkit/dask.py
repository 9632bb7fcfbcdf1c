"""convkit.dask: convolution of a Dask array, chunk by chunk, equal to one call on the whole array.

A Dask array ``x [N, C, D1..Dd]`` whose chunks are NumPy arrays (the CPU
reference) or CuPy arrays (the GPU algorithms; dask-cuda spreads them over
GPUs) is convolved block by block with `convkit.conv`, and the result is a
Dask array equal to ``convkit.conv`` of the whole array: same padding rules,
same boundary modes at the array's outer edges, same strides. Nothing about
the distribution is home-made: the graph is ``dask.array.pad`` followed by
``dask.array.map_overlap``.

How (per spatial axis; ``lo, hi`` the resolved padding, ``e = dil*(k-1)+1``
the kernel extent, ``s`` the stride):

1. The whole array is padded lazily at its outer edges by ``(lo, hi)`` with
   the boundary mode (``dask.array.pad``, NumPy's mode of that name). Output
   ``o`` then reads padded positions ``o*s .. o*s + e - 1``, and every block
   runs a *valid* (unpadded) convolution: the blocks never see a boundary.
2. Output ``o`` belongs to the input chunk its window starts in. With ``B``
   a chunk's first padded position, its outputs start at ``ceil(B / s)``;
   the padded array is rechunked to start at ``ceil(B / s) * s`` (a shift of
   less than ``s``; none for stride 1 but folding the pads into the first and
   last chunk), so that each block of ``n`` outputs owns ``n*s`` positions.
3. Each block reads ``h = max(e - s, 0)`` more positions from its right
   neighbour (``map_overlap``, depth ``(0, h)``, boundary ``'none'``): a valid
   convolution of ``n*s + h`` positions gives exactly ``n`` outputs. The last
   block owns the rest of the axis and needs no halo. Chunks are merged where
   one would be shorter than the halo (Dask takes a halo from the next block
   only).

Channels must be one chunk (a chunked channel axis is rechunked); N may be
chunked and stays as it is. The weights and bias travel with the graph.
"""

import math
import operator

import numpy as np
import dask.array as da

from . import _arrays
from ._core import _ALGORITHMS, _choice, _ints, conv as _conv, make_spec

__all__ = ["conv"]

# convkit's boundary names -> NumPy's (and dask.array.pad's) mode names.
_PAD_MODES = {"zeros": "constant", "circular": "wrap", "reflect": "reflect", "replicate": "edge",
              "symmetric": "symmetric"}


def _array_kind(a):
    """'numpy', 'cupy' or None: the array types a chunk, the weights and the bias may have."""
    if isinstance(a, np.ndarray):
        return "numpy"
    if type(a).__module__.split(".")[0] == "cupy":
        return "cupy"
    return None


def _per_dim(name, value, d):
    v = _ints(name, value)
    return [v] * d if isinstance(v, int) else list(v)


def _axis_plan(bounds, lo, size_padded, e, s, out_size):
    """Chunks along one spatial axis: (padded-array chunks, output chunks, right halo).

    `bounds` are the input chunks' start positions after the first (in input
    coordinates). Output o belongs to the chunk whose padded range holds o*s,
    its window's first position.
    """
    h = max(e - s, 0)
    # ceil((b + lo) / s): the first output whose window starts at or after padded position b + lo.
    # Chunks whose windows all start past the last output (in the hi padding) own no output.
    starts = sorted({0} | {c for c in (-(-(b + lo) // s) for b in bounds) if c < out_size})
    # Merge output chunks until each padded chunk holds the halo its left
    # neighbour reads (the last padded chunk runs to the end of the axis).
    kept = [0]
    for c in starts[1:]:
        if (c - kept[-1]) * s >= h:
            kept.append(c)
    while len(kept) > 1 and size_padded - kept[-1] * s < h:
        kept.pop()
    ends = kept[1:] + [out_size]
    out_chunks = tuple(b - a for a, b in zip(kept, ends))
    padded_chunks = tuple(n * s for n in out_chunks[:-1]) + (size_padded - kept[-1] * s,)
    return padded_chunks, out_chunks, h


def _conv_block(block, w, bias, stride, dilation, groups, mode, algorithm):
    # A valid convolution: the padding is already in the array, the halo in the block.
    return _conv(block, w, bias, stride=stride, padding=0, dilation=dilation, groups=groups, mode=mode,
                 algorithm=algorithm)


def conv(array, w, bias=None, *, stride=1, padding=0, dilation=1, groups=1, mode="correlation",
         boundary="zeros", algorithm="auto"):
    """`convkit.conv` of a Dask array, computed chunk by chunk; returns a Dask array.

    Parameters
    ----------
    array : dask.array.Array, shape (N, C, D1[, D2[, D3]])
        NumPy chunks (computed by the CPU reference) or CuPy chunks (the GPU
        algorithms). Any chunking of N and the spatial axes; the channel axis
        is rechunked into one chunk when it is split.
    w : numpy.ndarray or cupy.ndarray, shape (K, C/groups, k1[, k2[, k3]])
        The weights, of the chunks' array type (not a Dask array).
    bias : numpy.ndarray or cupy.ndarray, shape (K,), optional
    stride, padding, dilation, groups, mode, boundary, algorithm
        As in `convkit.conv`, for the whole array: the padding and the
        boundary mode apply at the array's outer edges only.

    Returns
    -------
    y : dask.array.Array, shape (N, K, O1[, O2[, O3]])
        Equal to ``convkit.conv(array.compute(), w, bias, ...)``. N keeps its
        chunks, K is one chunk, and along each spatial axis output ``o`` goes
        with the input chunk where its window starts (about chunk/stride
        outputs per chunk).

    Raises
    ------
    ValueError
        `array` is not a Dask array or has unknown chunk sizes; `w` or `bias`
        is not a NumPy or CuPy array; `algorithm` is not a known name; or the
        problem is invalid for the whole array (convkit's own message, raised
        here before anything is computed). Whether the algorithm serves the
        blocks is the block calls' concern (raised at compute time).

    Examples
    --------
    >>> import numpy as np, dask.array as da, convkit, convkit.dask
    >>> x = np.arange(20.0).reshape(1, 1, 20)
    >>> w = np.array([1.0, 2.0, 3.0]).reshape(1, 1, 3)
    >>> y = convkit.dask.conv(da.from_array(x, chunks=(1, 1, 6)), w, stride=2, padding="full")
    >>> y.chunks
    ((1,), (1,), (4, 3, 3, 1))
    >>> bool((y.compute() == convkit.conv(x, w, stride=2, padding="full")).all())
    True
    """
    if not isinstance(array, da.Array):
        raise ValueError(f"convkit.dask.conv: array must be a dask.array.Array, got {type(array).__name__}; "
                         "wrap it with dask.array.from_array, or call convkit.conv on it directly")
    kind = _array_kind(array._meta)
    if kind is None:
        raise ValueError(f"convkit.dask.conv: the array's chunks must be NumPy or CuPy arrays, "
                         f"got {type(array._meta).__name__}")
    for name, a in (("w", w), ("bias", bias)):
        if a is None and name == "bias":
            continue
        k = _array_kind(a)
        if k is None:
            raise ValueError(f"convkit.dask.conv: {name} must be a NumPy or CuPy array (the chunks' type, "
                             f"{kind}), got {type(a).__module__}.{type(a).__name__}"
                             + ("; compute it first" if isinstance(a, da.Array) else ""))
        if k != kind:
            raise ValueError(f"convkit.dask.conv: {name} is a {k} array but the chunks are {kind} arrays; "
                             "they must live in the same place")
    if any(math.isnan(c) for cs in array.chunks for c in cs):
        raise ValueError("convkit.dask.conv: the array has unknown chunk sizes; "
                         "call array.compute_chunk_sizes() first")

    # The whole problem, validated by the library (its messages) before any graph is built.
    d = max(array.ndim - 2, 0)
    spec = make_spec(d, stride=stride, padding=padding, dilation=dilation, groups=groups, mode=mode,
                     boundary=boundary, bias=bias is not None)
    out_shape = tuple(spec.output_shape(tuple(array.shape), tuple(w.shape)))
    _choice("algorithm", algorithm, _ALGORITHMS)  # a misspelt name fails here, not in a worker
    strides = _per_dim("stride", stride, d)
    dilations = _per_dim("dilation", dilation, d)
    pads = [tuple(spec.resolved_padding(i, w.shape[2 + i])) for i in range(d)]

    if array.numblocks[1] > 1:
        array = array.rechunk({1: -1})
    if any(lo or hi for lo, hi in pads):
        pad_width = [(0, 0), (0, 0)] + pads
        pmode = _PAD_MODES[boundary]
        padded = da.pad(array, pad_width, mode=pmode, **({"constant_values": 0} if pmode == "constant" else {}))
    else:
        padded = array

    padded_chunks = [array.chunks[0], array.chunks[1]]
    out_chunks = [array.chunks[0], (out_shape[1],)]
    depth = {0: 0, 1: 0}
    for i in range(d):
        ax = 2 + i
        lo, hi = pads[i]
        e = dilations[i] * (w.shape[ax] - 1) + 1
        bounds = np.cumsum(array.chunks[ax])[:-1].tolist()
        pc, oc, h = _axis_plan(bounds, lo, padded.shape[ax], e, strides[i], out_shape[ax])
        padded_chunks.append(pc)
        out_chunks.append(oc)
        depth[ax] = (0, h)
    padded = padded.rechunk(tuple(padded_chunks))

    if kind == "numpy":
        dtype = _arrays.float_dtype(array._meta, w, bias)
    else:
        dtype = array.dtype
    return da.map_overlap(_conv_block, padded, depth=depth, boundary="none", trim=False, allow_rechunk=False,
                          chunks=tuple(out_chunks), meta=array._meta.astype(dtype), dtype=dtype,
                          w=w, bias=bias, stride=strides, dilation=dilations, groups=operator.index(groups),
                          mode=mode, algorithm=algorithm)
