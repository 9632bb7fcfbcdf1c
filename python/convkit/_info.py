"""convkit.info(): what this installation is and can do."""

import sys

from . import _convkit as _ck


def info(file=None):
    """Prints convkit's version, build, devices and the algorithms available.

    Parameters
    ----------
    file : file-like, optional
        Where to print (default ``sys.stdout``).

    Examples
    --------
    >>> import convkit
    >>> convkit.info()  # doctest: +ELLIPSIS
    convkit ...
    """
    out = sys.stdout if file is None else file
    cudart = _ck.cudart_version
    has_device = _ck.device_available()
    archs = ", ".join(f"sm_{a}" for a in str(_ck.cuda_architectures).split())
    lines = [
        f"convkit {_ck.__version__}",
        f"build: CUDA runtime {cudart // 1000}.{cudart % 1000 // 10}, code for {archs}; "
        f"extension {_ck.__file__}",
        f"device: {_ck.device_description()}",
        "algorithms:",
    ]
    spec = _ck.ConvSpec(1)
    for name, algo in [("reference", _ck.Algorithm.Reference), ("direct", _ck.Algorithm.Direct),
                       ("im2col_gemm", _ck.Algorithm.Im2colGemm),
                       ("sparse_toeplitz", _ck.Algorithm.SparseToeplitz), ("fft", _ck.Algorithm.Fft)]:
        ok, reason, _ = _ck.supports(spec, [1, 1, 16], [1, 1, 3], _ck.DType.F32, algo)
        if algo == _ck.Algorithm.Reference:
            state = "available (CPU, float64 accumulation: the oracle; NumPy inputs)"
        elif not ok:
            state = f"not available: {reason}"
        elif has_device:
            state = "available (CuPy / PyTorch CUDA inputs)"
        else:
            state = "built, needs a CUDA device (none usable here)"
        lines.append(f"  {name:16s}{state}")
    print("\n".join(lines), file=out)
