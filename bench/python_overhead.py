"""Python overhead of convkit.conv: the same tiny convolution called from Python and from C++.

    python bench/python_overhead.py [--reps N] [--device]

Host (NumPy) arrays: both sides run the CPU reference on a 1 x 1 x 8 signal
and a 3-tap kernel, so the difference is what the Python layer adds
(argument translation, array checks, output allocation, DLPack import).
With --device (CuPy or PyTorch CUDA arrays) both sides enqueue the kernel
without waiting, so the difference is the overhead on top of the launch.
The C++ side is the extension's own loop over the same call
(convkit._convkit._time_conv), without the interpreter. Target: at most
10 us per call of Python overhead.
"""

import argparse
import statistics
import time

import numpy as np

import convkit
from convkit import _convkit
from convkit._core import make_spec


def per_call(fn, reps):
    fn()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def median_of(fn, reps, rounds=7):
    return statistics.median(per_call(fn, reps) for _ in range(rounds))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=20000)
    ap.add_argument("--device", action="store_true", help="time CUDA arrays (CuPy or PyTorch) instead of NumPy")
    args = ap.parse_args()

    x = np.random.default_rng(0).standard_normal((1, 1, 8)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((1, 1, 3)).astype(np.float32)
    label = "host (NumPy, CPU reference)"
    stream = 0
    if args.device:
        try:
            import cupy as xp
            x, w = xp.asarray(x), xp.asarray(w)
            stream = xp.cuda.get_current_stream().ptr
            label = "device (CuPy, launch only)"
        except ImportError:
            import torch
            x, w = torch.from_numpy(x).cuda(), torch.from_numpy(w).cuda()
            stream = torch.cuda.current_stream().cuda_stream
            label = "device (PyTorch, launch only)"
    y = convkit.conv(x, w)
    spec = make_spec(1)
    algo = _convkit.Algorithm.Auto

    t_py = median_of(lambda: convkit.conv(x, w), args.reps)
    t_py_out = median_of(lambda: convkit.conv(x, w, out=y), args.reps)
    t_ext = median_of(lambda: _convkit.conv(spec, x, w, None, y, algo, stream), args.reps)
    t_cpp = statistics.median(_convkit._time_conv(spec, x, w, None, y, algo, stream, args.reps) for _ in range(7))
    us = 1e6
    print(f"convkit {convkit.__version__}, {label}: x {tuple(x.shape)}, w {tuple(w.shape)}, float32, "
          f"median of 7 x {args.reps} calls")
    print(f"  C++ loop (the same call)          {t_cpp * us:7.2f} us/call")
    print(f"  extension call from Python        {t_ext * us:7.2f} us/call")
    print(f"  convkit.conv(x, w, out=y)          {t_py_out * us:7.2f} us/call")
    print(f"  convkit.conv(x, w)                 {t_py * us:7.2f} us/call")
    print(f"  Python overhead (conv - C++)       {(t_py - t_cpp) * us:7.2f} us/call  (target <= 10 us)")


if __name__ == "__main__":
    main()
