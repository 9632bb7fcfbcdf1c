"""Array types, devices and streams: where an array lives and how to hand it over.

convkit computes an array where it lives. NumPy arrays (and anything
``numpy.asarray`` accepts) go to the CPU reference; CuPy arrays, CUDA PyTorch
tensors and any other object whose ``__dlpack_device__`` names a CUDA device
go to the GPU algorithms through DLPack, without copies. Outputs are allocated
in the input's own array type on its device. Frameworks are imported only when
an array of theirs is seen (their module is then already imported).
"""

import sys

import numpy as np

_DLPACK_CPU = 1
_DLPACK_CUDA = 2
_DLPACK_CUDA_MANAGED = 13


class _Kind:
    NUMPY = "numpy"
    TORCH = "torch"
    CUPY = "cupy"
    DLPACK = "dlpack"  # another CUDA array type, through the Array API / DLPack


def _module_of(a):
    return type(a).__module__.partition(".")[0]


def kind_of(a):
    """The family of `a`: numpy, torch (a CUDA tensor), cupy or dlpack (other CUDA arrays).

    CPU PyTorch tensors and other host DLPack arrays count as numpy: they are
    computed by the reference and returned as NumPy arrays converted back by
    their framework where it can (torch.from_numpy).
    """
    if isinstance(a, np.ndarray):
        return _Kind.NUMPY
    mod = _module_of(a)
    if mod == "torch" and "torch" in sys.modules and isinstance(a, sys.modules["torch"].Tensor):
        return _Kind.TORCH if a.is_cuda else _Kind.NUMPY
    if mod == "cupy":
        return _Kind.CUPY
    dev = getattr(a, "__dlpack_device__", None)
    if dev is not None:
        dtype, _ = dev()
        if int(dtype) in (_DLPACK_CUDA, _DLPACK_CUDA_MANAGED):
            return _Kind.DLPACK
    return _Kind.NUMPY


def is_torch_cpu(a):
    return _module_of(a) == "torch" and "torch" in sys.modules and isinstance(a, sys.modules["torch"].Tensor)


def host_array(a, dtype=None):
    """A C-contiguous NumPy array of `a` (one copy only when needed)."""
    if type(a) is np.ndarray and a.dtype == dtype and a.flags.c_contiguous:
        return a  # the common case, without ascontiguousarray's call overhead
    if is_torch_cpu(a):
        a = a.detach().numpy()
    return np.ascontiguousarray(a, dtype=dtype)


_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


def _dtype_of(a):
    if isinstance(a, np.ndarray):
        return a.dtype
    if is_torch_cpu(a):
        return np.dtype(str(a.dtype).replace("torch.", ""))
    return np.asarray(a).dtype


def float_dtype(*arrays):
    """NumPy dtype of the computation: float32 when every input is float32, else float64."""
    all32 = True
    for a in arrays:
        if a is None:
            continue
        d = _dtype_of(a)
        if d != _F32:
            all32 = False
            if d.kind == "c":
                raise ValueError(f"convkit computes real convolutions; got a complex input ({d})")
    return _F32 if all32 else _F64


def device_contiguous(a, kind):
    """`a` made C-contiguous with at most one copy, in its own framework, on its device."""
    if kind == _Kind.TORCH:
        # detach(): DLPack refuses tensors that require grad; conv is not
        # differentiable through autograd (the backward functions come later).
        a = a.detach()
        return a if a.is_contiguous() else a.contiguous()
    if kind == _Kind.CUPY:
        return a if a.flags.c_contiguous else sys.modules["cupy"].ascontiguousarray(a)
    return a  # other DLPack producers: nanobind refuses a strided one with a TypeError


def is_contiguous(a, kind):
    if kind == _Kind.NUMPY:
        return isinstance(a, np.ndarray) and a.flags.c_contiguous
    if kind == _Kind.TORCH:
        return a.is_contiguous()
    if kind == _Kind.CUPY:
        return a.flags.c_contiguous
    return True


def dtype_name(a):
    return str(a.dtype).replace("torch.", "")


def empty_like_kind(x, kind, shape):
    """An uninitialised array of `shape`, x's dtype, type and device."""
    if kind == _Kind.TORCH:
        torch = sys.modules["torch"]
        return torch.empty(tuple(shape), dtype=x.dtype, device=x.device)
    if kind == _Kind.CUPY:
        cupy = sys.modules["cupy"]
        with cupy.cuda.Device(x.device.id):
            return cupy.empty(tuple(shape), dtype=x.dtype)
    ns = getattr(x, "__array_namespace__", None)
    if ns is None:
        raise ValueError(
            f"convkit cannot allocate the result for a {type(x).__name__} (it has no __array_namespace__); "
            "pass out= an array of the output's shape on the same device")
    xp = ns()
    return xp.empty(tuple(shape), dtype=x.dtype, device=x.device)


def device_id(x, kind):
    if kind == _Kind.TORCH:
        return x.device.index or 0
    if kind == _Kind.CUPY:
        return x.device.id
    return int(x.__dlpack_device__()[1])


def resolve_stream(stream, x, kind):
    """The CUDA stream handle (an int) a call on `x` runs on.

    ``None``: the current stream of x's framework (``torch.cuda.current_stream``,
    ``cupy.cuda.get_current_stream``); the legacy default stream 0 for other
    DLPack producers, which have no notion of a current stream. An int is a
    ``cudaStream_t`` used as given; a framework stream object
    (``torch.cuda.Stream``, ``cupy.cuda.Stream``, anything with
    ``__cuda_stream__``) is used as given too.
    """
    if stream is None:
        if kind == _Kind.TORCH:
            return int(sys.modules["torch"].cuda.current_stream(x.device).cuda_stream)
        if kind == _Kind.CUPY:
            return int(sys.modules["cupy"].cuda.get_current_stream().ptr)
        return 0
    if isinstance(stream, (int, np.integer)) and not isinstance(stream, bool):
        return int(stream)
    proto = getattr(stream, "__cuda_stream__", None)
    if proto is not None:
        return int(proto()[1])
    for attr in ("cuda_stream", "ptr", "handle"):
        h = getattr(stream, attr, None)
        if isinstance(h, (int, np.integer)):
            return int(h)
    raise TypeError(f"stream must be None, an int (cudaStream_t) or a CUDA stream object; got {type(stream).__name__}")
