"""Test helpers: an independent NumPy oracle of DESIGN §1's definition, and GPU array makers.

The oracle is the tests' own (np.pad for the boundary, one strided slice per
kernel tap); the package never uses it.
"""

import importlib

import numpy as np
import pytest

NUMPY_PAD = {"zeros": "constant", "circular": "wrap", "reflect": "reflect", "replicate": "edge",
             "symmetric": "symmetric"}


def oracle(x, w, bias=None, *, stride, pads, dilation, groups=1, mode="correlation", boundary="zeros"):
    """y of conv() by definition; pads: [(lo, hi)] per spatial dim, stride / dilation: per dim."""
    d = x.ndim - 2
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0)] + list(pads), mode=NUMPY_PAD[boundary])
    w = w.astype(np.float64)
    if mode == "convolution":
        w = np.flip(w, axis=tuple(range(2, 2 + d)))
    N, C = x.shape[:2]
    K, Cg = w.shape[:2]
    ks = w.shape[2:]
    out = [(xp.shape[2 + i] - dilation[i] * (ks[i] - 1) - 1) // stride[i] + 1 for i in range(d)]
    y = np.zeros((N, K, *out))
    Kg = K // groups
    for k in range(K):
        g = k // Kg
        xs = xp[:, g * Cg:(g + 1) * Cg]
        for tap in np.ndindex(*ks):
            sl = tuple(slice(tap[i] * dilation[i], tap[i] * dilation[i] + stride[i] * (out[i] - 1) + 1, stride[i])
                       for i in range(d))
            wk = w[(k, slice(None)) + tap].reshape((1, Cg) + (1,) * d)
            y[:, k] += (xs[(slice(None), slice(None)) + sl] * wk).sum(axis=1)
        if bias is not None:
            y[:, k] += bias[k]
    return y


def gpu_frameworks():
    """(name, module) of the CUDA array frameworks usable here: CuPy, PyTorch with a device."""
    found = []
    try:
        cupy = importlib.import_module("cupy")
        if cupy.cuda.runtime.getDeviceCount() > 0:
            found.append(("cupy", cupy))
    except Exception:
        pass
    try:
        torch = importlib.import_module("torch")
        if torch.cuda.is_available():
            found.append(("torch", torch))
    except Exception:
        pass
    return found
