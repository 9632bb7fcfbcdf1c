"""Filtering a long signal in chunks with convkit.dask, and checking it against one call.

    python examples/python/dask_filter.py [samples]

A synthetic recording (a slow drift, a 50 Hz hum and noise, 1 kHz sampling)
is held as a Dask array in 10,000-sample chunks and smoothed by a 101-tap
moving-average kernel with 'same' padding and reflect boundaries, once with
convkit.dask.conv (chunk by chunk, each chunk with its halo) and once with
convkit.conv on the whole signal. The two agree exactly: the chunked
result is the one-shot result. With NumPy chunks the work runs on convkit's
CPU reference; with CuPy chunks (and dask-cuda for several GPUs) on the GPU
algorithms, unchanged.

Prints the chunking, the agreement and how much the hum was reduced; exits
non-zero when the two results differ.
"""

import sys

import dask
import dask.array as da
import numpy as np

import convkit
import convkit.dask


def main(samples=200_000):
    rng = np.random.default_rng(7)
    t = np.arange(samples) / 1000.0
    signal = 0.5 * t / t[-1] + 0.2 * np.sin(2 * np.pi * 50 * t) + 0.05 * rng.standard_normal(samples)
    x = signal.reshape(1, 1, -1)
    w = np.full((1, 1, 101), 1.0 / 101)
    kw = dict(padding="same", boundary="reflect")

    chunked = da.from_array(x, chunks=(1, 1, 10_000))
    lazy = convkit.dask.conv(chunked, w, **kw)
    print(f"{samples} samples in {len(chunked.chunks[2])} chunks of 10000; output chunks "
          f"{lazy.chunks[2][:3]}...{lazy.chunks[2][-2:]}")
    with dask.config.set(scheduler="threads"):
        y_chunks = lazy.compute()
    y_whole = convkit.conv(x, w, **kw)

    same = np.array_equal(y_chunks, y_whole)
    print(f"chunked == one call: {same} (max |difference| {np.max(np.abs(y_chunks - y_whole)):.3g})")
    hum = lambda v: np.abs(np.fft.rfft(v.ravel())[int(50 * samples / 1000)])
    print(f"50 Hz hum reduced by {hum(x) / hum(y_chunks):.0f}x")
    return same


if __name__ == "__main__":
    sys.exit(0 if main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000) else 1)
