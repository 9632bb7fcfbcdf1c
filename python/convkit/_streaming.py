"""convkit.StreamingConv: causal 1-D filtering of signals that arrive in chunks.

A thin layer over the C++ ``convkit::StreamingConv`` (``<convkit/streaming.hpp>``):
the pushes, the history and every rule and message are the library's; this
module translates arguments, allocates outputs in the caller's array type and
resolves the caller's stream.
"""

import operator

import numpy as np

from . import _arrays
from . import _convkit as _ck
from ._core import _ALGORITHMS, _choice, make_spec

_ALGORITHM_NAMES = {v: k for k, v in _ALGORITHMS.items()}
_NUMPY_DTYPES = {_ck.DType.F32: np.dtype(np.float32), _ck.DType.F64: np.dtype(np.float64)}


def _causal_padding(w_shape, dilation):
    # The spec the pushes reproduce has padding (dil*(k-1), 0); shapes and
    # dilations that have no such padding go to the library as they are, with
    # none, for its own message.
    k = w_shape[2] if len(w_shape) == 3 else 1
    h = dilation * (k - 1) if dilation >= 1 and k >= 1 else 0
    return ((h, 0),)


class StreamingConv:
    """A causal 1-D filter over `batch` streams of C channels that arrive in chunks.

    Each ``push(x)`` of a chunk ``x`` of shape (N, C, L) returns the outputs
    (N, K, L) for those samples, keeping the last ``dilation*(k-1)`` samples
    of each channel as the history: the outputs of any sequence of pushes
    (lengths 1 and up, varying) are those of one `conv` over the whole
    signal with the causal padding ``(dilation*(k-1), 0)``.

    Parameters
    ----------
    w : array_like, shape (K, C/groups, k)
        Weights. Where they live decides where the stream runs: NumPy (or
        anything ``numpy.asarray`` accepts, CPU PyTorch tensors included)
        makes a host stream, whose pushes run the CPU reference; a CuPy
        array, a CUDA PyTorch tensor or another CUDA ``__dlpack__`` array
        makes a device stream on its device, whose pushes run the GPU
        algorithms. The weights (and bias) are copied at construction.
    bias : array_like, shape (K,), optional
        Added to every output of channel k; where `w` is.
    dilation : int
        Spacing of the kernel's taps.
    groups : int
        Input and output channels split into this many groups.
    mode : {'convolution', 'correlation'}
        'convolution' (the default): ``y[t] = b + sum_a w[.., a] * x[t - a*dilation]``,
        ``w[.., 0]`` weighing the newest sample, as ``scipy.signal.lfilter(w, [1], x)``
        does. 'correlation': the kernel reversed (``w[.., k-1]`` weighs the
        newest sample), which is PyTorch's ``Conv1d`` with left padding only.
    batch : int
        N, the number of streams that advance together.
    algorithm : {'auto', 'direct', 'im2col_gemm', 'sparse_toeplitz', 'fft', 'reference'}
        Host streams run 'reference' ('auto' means it there); device streams
        a GPU algorithm ('auto': convkit's choice, made once per chunk length).
    stream : None, int or stream object
        Device streams only: the CUDA stream its work is enqueued on. None:
        the current stream of the weights' framework at construction (see
        `conv`). Every later call handing in a device array (`push`,
        `set_history`, `history`) must be made with this stream current or
        pass it as ``stream=``: the history is ordered on that stream alone.

    Raises
    ------
    ValueError
        An invalid argument (convkit's InvalidArgument), with the library's
        message: bad shapes, a bias with the wrong shape or place, batch < 1,
        an algorithm at the wrong location (a GPU algorithm with host weights,
        'reference' with device weights).
    NotImplementedError
        The named GPU algorithm cannot run this stream's convolution.

    Notes
    -----
    Chunks and the history must have the stream's dtype (the weights'; host
    weights are converted as `conv` converts its inputs: float32 when `w` and
    `bias` are float32, else float64) and live where the weights do; a chunk
    of another dtype, another place or another channel count is a ValueError
    naming it. Host streams give outputs bit-identical to the one-shot
    reference `conv`. Device pushes only enqueue work on the stream and never
    synchronise (except that 'auto' on a context with tuning on times a new
    chunk length once, and that 'fft' makes cuFFT plans per chunk length).

    Examples
    --------
    >>> import numpy as np, convkit
    >>> s = convkit.StreamingConv(np.array([[[1.0, 2.0, 3.0]]]))
    >>> s.push(np.array([[[1.0, 0.0]]]))
    array([[[1., 2.]]])
    >>> s.push(np.array([[[0.0, 0.0, 0.0]]]))
    array([[[3., 0., 0.]]])
    >>> s.history
    array([[[0., 0.]]])
    """

    def __init__(self, w, bias=None, *, dilation=1, groups=1, mode="convolution", batch=1, algorithm="auto",
                 stream=None):
        algo = _choice("algorithm", algorithm, _ALGORITHMS)
        dilation = operator.index(dilation)
        kind = _arrays.kind_of(w)
        self._kind = kind
        if kind == _arrays._Kind.NUMPY:
            self._torch_cpu = _arrays.is_torch_cpu(w)
            dtype = _arrays.float_dtype(w, bias)
            wc = _arrays.host_array(w, dtype)
            bc = None if bias is None else _arrays.host_array(bias, dtype)
            handle = 0
            self._w = self._b = None
        else:
            self._torch_cpu = False
            wc = _arrays.device_contiguous(w, kind)
            bc = None if bias is None else _arrays.device_contiguous(bias, _arrays.kind_of(bias))
            handle = _arrays.resolve_stream(stream, wc, kind)
            # The library copies the weights on the stream, asynchronously:
            # these stay referenced until the copy has surely run (the
            # history's arrays are allocated like them, too).
            self._w, self._b = wc, bc
        spec = make_spec(1, padding=_causal_padding(tuple(wc.shape), dilation), dilation=dilation, groups=groups,
                         mode=mode, bias=bias is not None)
        self._s = _ck.StreamingConv(spec, wc, bc, algo, operator.index(batch), handle)

    def push(self, x, *, out=None, stream=None):
        """Filters the next chunk x (N, C, L) and returns its outputs (N, K, L).

        x is in the stream's dtype and place: a NumPy array (or a CPU PyTorch
        tensor, returned as one) for a host stream, a CUDA array for a device
        stream, returned in x's type on its device. L = 0 returns an empty
        result and leaves the history as it was. `out`, optional, is where to
        write the result (C-contiguous, in x's type and place); `stream`
        (device streams) defaults to x's framework's current stream, which
        must be the stream's own.
        """
        kind = _arrays._Kind.NUMPY if type(x) is np.ndarray else _arrays.kind_of(x)
        if kind == _arrays._Kind.NUMPY:
            torch_out = type(x) is not np.ndarray and _arrays.is_torch_cpu(x)
            xc = _arrays.host_array(x)
            if out is None:
                y = np.empty(self._s.output_shape(xc.shape), dtype=xc.dtype)
            else:
                y = out.detach().numpy() if _arrays.is_torch_cpu(out) else out
                if not isinstance(y, np.ndarray) or not y.flags.c_contiguous:
                    raise ValueError("out must be a C-contiguous array: convkit writes it in place and never copies it")
                if not y.flags.writeable:
                    raise ValueError("out is read-only")
            self._s.push(xc, y, 0)
            if out is not None:
                return out
            if torch_out:
                import torch
                return torch.from_numpy(y)
            return y
        xc = _arrays.device_contiguous(x, kind)
        if out is None:
            out = _arrays.empty_like_kind(xc, kind, self._s.output_shape(tuple(xc.shape)))
        elif not _arrays.is_contiguous(out, _arrays.kind_of(out)):
            raise ValueError("out must be C-contiguous: convkit writes it in place and never copies it")
        self._s.push(xc, out, _arrays.resolve_stream(stream, xc, kind))
        return out

    @property
    def history(self):
        """A copy of the history (N, C, dilation*(k-1)): the samples before the next push, oldest first.

        NumPy for a host stream (a CPU PyTorch tensor when the weights were
        one); for a device stream an array of the weights' type on their
        device, copied on the stream (made with that stream current).
        """
        shape = tuple(self._s.history_shape)
        if self._w is None:
            h = np.empty(shape, dtype=self.dtype)
            self._s.history(h, 0)
            if self._torch_cpu:
                import torch
                return torch.from_numpy(h)
            return h
        h = _arrays.empty_like_kind(self._w, self._kind, shape)
        self._s.history(h, _arrays.resolve_stream(None, self._w, self._kind))
        return h

    def set_history(self, h, *, stream=None):
        """Continues from history h (N, C, dilation*(k-1)), oldest sample first; `reset` returns here.

        h is copied (on the stream, for a device stream); it must have the
        stream's dtype and place. Starting from the first sample repeated
        reproduces a one-shot `conv` with ``boundary='replicate'``.
        """
        kind = _arrays._Kind.NUMPY if type(h) is np.ndarray else _arrays.kind_of(h)
        if kind == _arrays._Kind.NUMPY:
            self._s.set_history(_arrays.host_array(h), 0)
            return
        hc = _arrays.device_contiguous(h, kind)
        self._s.set_history(hc, _arrays.resolve_stream(stream, hc, kind))

    def reset(self):
        """Back to the start: the history last given to `set_history`, else zeros."""
        self._s.reset()

    def zero_history(self):
        """Back to zero history, as at construction (`reset` then returns there too)."""
        self._s.zero_history()

    def algorithm_for(self, length):
        """The algorithm a push of `length` samples runs ('auto' resolved; 'reference' on a host stream)."""
        return _ALGORITHM_NAMES[self._s.algorithm_for(operator.index(length))]

    @property
    def algorithm(self):
        """The algorithm asked for ('auto' stays 'auto')."""
        return _ALGORITHM_NAMES[self._s.algorithm]

    @property
    def dtype(self):
        """The stream's NumPy dtype (its weights')."""
        return _NUMPY_DTYPES[self._s.dtype]

    @property
    def device(self):
        """The CUDA device ordinal of a device stream; None for a host stream."""
        return self._s.device if self._s.on_device else None

    @property
    def stream(self):
        """The CUDA stream handle a device stream enqueues on; None for a host stream."""
        return self._s.stream if self._s.on_device else None

    @property
    def batch(self):
        """N, the number of streams."""
        return self._s.batch

    @property
    def channels(self):
        """C, the input channels of a chunk."""
        return self._s.channels

    @property
    def out_channels(self):
        """K, the output channels."""
        return self._s.out_channels

    @property
    def history_length(self):
        """dilation*(k-1), the samples of history per channel."""
        return self._s.history_length

    @property
    def samples_pushed(self):
        """Samples pushed per channel since construction or the last reset / set_history / zero_history."""
        return self._s.samples_pushed

    def __repr__(self):
        where = "host" if self.device is None else f"cuda:{self.device}"
        return (f"StreamingConv(batch={self.batch}, channels={self.channels}, out_channels={self.out_channels}, "
                f"history_length={self.history_length}, dtype={self.dtype}, device={where}, "
                f"algorithm={self.algorithm!r})")
