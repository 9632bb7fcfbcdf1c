#!/usr/bin/env python3
"""Golden convolution cases computed by SciPy, an oracle independent of convkit.

Writes golden.txt next to this script; tests/test_golden.cpp runs every case
through convkit::reference::conv and compares. Regenerate (NumPy and SciPy
needed; CI only reads the committed file) with:

    python3 tests/data/make_golden.py

and commit golden.txt together with any change here. The output is
deterministic (fixed seeds).

File format: a header comment, then one block per case:

    case <name>
    kind int|f64        int: small integers, exact in float and double
    dims <d>
    mode convolution|cross-correlation
    boundary zeros|circular
    padding valid|same|full|explicit <lo1> <hi1> [<lo2> <hi2> ...]
    x <rank> <sizes...> <values...>
    w <rank> <sizes...> <values...>
    y <rank> <sizes...> <values...>
    end

How SciPy's modes map onto convkit (stride 1, dilation 1, K = C = N = 1
unless noted):

* convolve / convolve2d 'full', 'valid', 'same'  ->  Mode::Convolution with
  Padding::full(), valid(), same(). SciPy centres 'same' inside the full
  output at offset (k-1)//2, i.e. pad_lo = ceil((k-1)/2), which is exactly
  convkit's 'same' rule for convolution, even kernels included.
* correlate / correlate2d 'full', 'valid'  ->  Mode::CrossCorrelation with
  Padding::full(), valid().
* correlate2d 'same'  ->  Padding::same(): correlate2d puts the window at
  pad_lo = floor((k-1)/2), PyTorch's and convkit's rule, even kernels too.
* correlate (the 1-D / N-D function) 'same' is computed as convolve with the
  reversed kernel, so it keeps convolve's pad_lo = ceil((k-1)/2). For odd k
  that equals convkit's 'same'; for even k it does not, so those cases are
  written with explicit padding (ceil, floor) instead.
* boundary='wrap' (convolve2d / correlate2d) -> Boundary::Circular with the
  padding of the same mode: 'same' -> Padding::same() (the centring rules
  above hold with wrapping too), 'full' -> Padding::full() (needs k-1 <= D).
* a multi-channel case sums correlate2d over input channels, per (n, k):
  the definition of a CNN layer.
"""

import os

import numpy as np
from scipy import signal

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.txt")


def ints(rng, shape):
    # Small integers keep every float sum exact; redraw the (unlikely) all-zero case.
    while True:
        a = rng.integers(-4, 5, size=shape).astype(np.float64)
        if np.any(a):
            return a


def floats(rng, shape):
    return rng.uniform(-1.0, 1.0, size=shape)


def fmt(v, kind):
    return str(int(v)) if kind == "int" else repr(float(v))


def tensor_line(tag, a, kind):
    return " ".join([tag, str(a.ndim)] + [str(s) for s in a.shape] + [fmt(v, kind) for v in a.ravel()])


cases = []


def add(name, kind, mode, boundary, padding, x, w, y):
    """x, w, y as convkit tensors ([N, C, D...], [K, C, k...], [N, K, O...])."""
    d = x.ndim - 2
    assert w.ndim == d + 2 and y.ndim == d + 2
    if kind == "int":
        assert np.all(y == np.round(y)), name
    cases.append("\n".join([
        "case " + name,
        "kind " + kind,
        "dims %d" % d,
        "mode " + mode,
        "boundary " + boundary,
        "padding " + padding,
        tensor_line("x", x, kind),
        tensor_line("w", w, kind),
        tensor_line("y", y, kind),
        "end",
    ]))


def single(a):
    return a.reshape((1, 1) + a.shape)


def explicit_ceil_floor(kshape):
    pads = []
    for k in kshape:
        total = k - 1
        lo = total - total // 2
        pads += [lo, total - lo]
    return "explicit " + " ".join(str(p) for p in pads)


CONV = "convolution"
CORR = "cross-correlation"


def one_d(rng):
    gen = {"int": ints, "f64": floats}
    table = [
        # (kind, function, scipy mode, Lx, Lk)
        ("int", "convolve", "full", 7, 3),
        ("int", "convolve", "full", 5, 4),
        ("int", "convolve", "valid", 9, 4),
        ("int", "convolve", "valid", 5, 5),
        ("int", "convolve", "same", 8, 3),
        ("int", "convolve", "same", 8, 4),
        ("int", "convolve", "same", 9, 6),
        ("int", "convolve", "same", 6, 1),
        ("int", "correlate", "full", 7, 3),
        ("int", "correlate", "full", 6, 4),
        ("int", "correlate", "valid", 9, 5),
        ("int", "correlate", "same", 8, 5),
        ("int", "correlate", "same", 8, 4),
        ("int", "correlate", "same", 7, 2),
        ("f64", "convolve", "same", 17, 6),
        ("f64", "convolve", "full", 11, 4),
        ("f64", "correlate", "full", 13, 5),
        ("f64", "correlate", "same", 12, 7),
    ]
    for kind, fn, mode, lx, lk in table:
        x = gen[kind](rng, (lx,))
        w = gen[kind](rng, (lk,))
        f = signal.convolve if fn == "convolve" else signal.correlate
        y = f(x, w, mode=mode, method="direct")
        padding = mode
        if fn == "correlate" and mode == "same" and lk % 2 == 0:
            padding = explicit_ceil_floor((lk,))
        add("1d_%s_%s_%s_x%d_k%d" % (kind, fn, mode, lx, lk), kind, CONV if fn == "convolve" else CORR,
            "zeros", padding, single(x), single(w), single(y))


def two_d(rng):
    gen = {"int": ints, "f64": floats}
    table = [
        # (kind, function, scipy mode, scipy boundary, x shape, w shape)
        ("int", "convolve2d", "full", "fill", (5, 6), (3, 2)),
        ("int", "convolve2d", "valid", "fill", (6, 7), (3, 4)),
        ("int", "convolve2d", "same", "fill", (6, 7), (3, 3)),
        ("int", "convolve2d", "same", "fill", (7, 6), (2, 4)),
        ("int", "convolve2d", "same", "fill", (5, 6), (4, 3)),
        ("int", "correlate2d", "full", "fill", (5, 4), (2, 3)),
        ("int", "correlate2d", "valid", "fill", (6, 6), (3, 3)),
        ("int", "correlate2d", "same", "fill", (6, 7), (3, 5)),
        ("int", "correlate2d", "same", "fill", (7, 6), (2, 4)),
        ("int", "correlate2d", "same", "fill", (6, 5), (4, 3)),
        ("int", "convolve2d", "same", "wrap", (6, 7), (3, 3)),
        ("int", "convolve2d", "same", "wrap", (6, 7), (4, 2)),
        ("int", "convolve2d", "full", "wrap", (5, 6), (3, 2)),
        ("int", "correlate2d", "same", "wrap", (6, 7), (2, 4)),
        ("int", "correlate2d", "same", "wrap", (5, 5), (3, 3)),
        ("int", "correlate2d", "full", "wrap", (5, 6), (3, 3)),
        ("f64", "convolve2d", "same", "fill", (9, 8), (4, 3)),
        ("f64", "correlate2d", "valid", "fill", (8, 8), (3, 3)),
        ("f64", "correlate2d", "same", "wrap", (7, 9), (3, 4)),
        ("f64", "convolve2d", "full", "wrap", (6, 5), (2, 3)),
    ]
    for kind, fn, mode, bnd, xs, ws in table:
        x = gen[kind](rng, xs)
        w = gen[kind](rng, ws)
        f = signal.convolve2d if fn == "convolve2d" else signal.correlate2d
        y = f(x, w, mode=mode, boundary=bnd)
        add("2d_%s_%s_%s_%s_x%dx%d_k%dx%d" % ((kind, fn, mode, bnd) + xs + ws), kind,
            CONV if fn == "convolve2d" else CORR, "circular" if bnd == "wrap" else "zeros", mode,
            single(x), single(w), single(y))

    # The N-D functions in 2-D: correlate 'same' with an even kernel needs
    # explicit (ceil, floor) padding, see the header.
    x = ints(rng, (6, 7))
    w = ints(rng, (2, 4))
    add("2d_int_correlate_nd_same_even_x6x7_k2x4", "int", CORR, "zeros", explicit_ceil_floor(w.shape),
        single(x), single(w), single(signal.correlate(x, w, mode="same", method="direct")))
    x = ints(rng, (5, 6))
    w = ints(rng, (4, 2))
    add("2d_int_convolve_nd_same_even_x5x6_k4x2", "int", CONV, "zeros", "same",
        single(x), single(w), single(signal.convolve(x, w, mode="same", method="direct")))

    # A CNN layer: N = 2, C = 3, K = 2, y[n,k] = sum_c correlate2d(x[n,c], w[k,c], 'valid').
    x = ints(rng, (2, 3, 5, 6))
    w = ints(rng, (2, 3, 3, 2))
    y = np.zeros((2, 2, 3, 5))
    for n in range(2):
        for k in range(2):
            for c in range(3):
                y[n, k] += signal.correlate2d(x[n, c], w[k, c], mode="valid")
    add("2d_int_layer_N2_C3_K2_valid", "int", CORR, "zeros", "valid", x, w, y)


def three_d(rng):
    x = ints(rng, (4, 5, 3))
    w = ints(rng, (2, 3, 2))
    add("3d_int_convolve_same_even", "int", CONV, "zeros", "same", single(x), single(w),
        single(signal.convolve(x, w, mode="same", method="direct")))
    x = ints(rng, (3, 4, 3))
    w = ints(rng, (2, 2, 3))
    add("3d_int_correlate_full", "int", CORR, "zeros", "full", single(x), single(w),
        single(signal.correlate(x, w, mode="full", method="direct")))
    x = floats(rng, (4, 4, 5))
    w = floats(rng, (3, 2, 3))
    add("3d_f64_correlate_valid", "f64", CORR, "zeros", "valid", single(x), single(w),
        single(signal.correlate(x, w, mode="valid", method="direct")))


def main():
    rng = np.random.default_rng(20240611)
    one_d(rng)
    two_d(rng)
    three_d(rng)
    with open(OUT, "w") as f:
        f.write("# Golden convolution cases computed by SciPy. Generated by make_golden.py;\n")
        f.write("# do not edit by hand. Format: see make_golden.py.\n")
        f.write("\n\n".join(cases) + "\n")
    print("wrote %d cases to %s" % (len(cases), OUT))


if __name__ == "__main__":
    main()
