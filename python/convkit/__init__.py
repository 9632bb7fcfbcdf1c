"""convkit: convolution from NumPy, CuPy and PyTorch, computed where the arrays live.

NumPy arrays run through convkit's CPU reference (the exact, float64-
accumulating oracle); CUDA arrays (CuPy, PyTorch, any ``__dlpack__`` CUDA
array) through the GPU algorithms, zero-copy, on the caller's current stream.

Functions
---------
conv                 -- N-D convolution / cross-correlation of a batch (the C++ spec)
conv_transpose       -- the transposed convolution (PyTorch's conv_transpose{1,2,3}d)
conv_backward_data   -- gradient of conv with respect to its input (torch.nn.grad.conv*d_input)
conv_backward_filter -- gradient with respect to the weights (torch.nn.grad.conv*d_weight)
conv_backward_bias   -- gradient with respect to the bias
output_shape         -- the output shape conv() would give
supports             -- whether an algorithm serves a problem, and which kernel
workspace_bytes      -- device workspace an algorithm needs
choose_algorithm     -- what algorithm='auto' picks, printed like explain()
StreamingConv        -- causal 1-D filtering of chunked signals, one push at a time
Context              -- the settings of the context calls on a device and stream use (set_exact)
toeplitz_matrix      -- the convolution's matrix T (y = T x) as scipy.sparse.csr_array
write_matrix_market  -- T written as Matrix Market
info                 -- version, build, device and algorithms
signal, ndimage      -- SciPy-compatible convolve / correlate (signal: fftconvolve / oaconvolve too)

Submodules imported on request (they import their framework):
convkit.torch        -- differentiable conv{1,2,3}d / conv_transpose{1,2,3}d custom ops and Conv modules
convkit.dask         -- conv() of Dask arrays, chunk by chunk, equal to the one-shot call

Exceptions: ValueError (InvalidArgument), NotImplementedError (NotSupported),
MemoryError (OutOfMemory), convkit.Error (every other status, with ``.status``).
"""

from . import _convkit
from ._convkit import Error, Status
from ._core import Context, choose_algorithm, conv, output_shape, supports, workspace_bytes
from ._grad import conv_backward_bias, conv_backward_data, conv_backward_filter, conv_transpose
from ._matrix import toeplitz_matrix, write_matrix_market
from ._streaming import StreamingConv
from ._info import info
from . import ndimage, signal

__version__ = _convkit.__version__

__all__ = ["Context", "Error", "Status", "StreamingConv", "choose_algorithm", "conv", "conv_backward_bias",
           "conv_backward_data", "conv_backward_filter", "conv_transpose", "info", "ndimage", "output_shape", "signal",
           "supports", "toeplitz_matrix", "workspace_bytes", "write_matrix_market", "__version__"]
