#!/usr/bin/env python3
"""Golden gradient cases computed with NumPy, an oracle independent of convkit.

Writes golden_grad.txt next to this script; tests/test_golden_grad.cpp runs
every case through convkit::reference::conv_backward_data / _filter / _bias,
convkit::conv_transpose (Algorithm::Reference) and conv_transpose_output_shape
and compares. Regenerate (NumPy needed; CI only reads the committed file) with:

    python3 tests/data/make_golden_grad.py

and commit golden_grad.txt together with any change here. The output is
deterministic (fixed seed).

How the values are computed (DESIGN §1b), without any of convkit's index
code: the boundary extension is NumPy's own np.pad applied to an array of
element indices (mode constant -1 / wrap / reflect / edge / symmetric for
convkit's Zeros / Circular / Reflect / Replicate / Symmetric, the README's
table), which gives, for every position of the explicitly extended input,
the input element it reads (or -1, an implicit zero). Then straight loops:

    forward   y[n,k,o]  = Σ_c Σ_i xe[n, g·C/G + c, o·s + i·dil] · w[k,c,tap(i)]
    backward  dxe[n, g·C/G + c, o·s + i·dil] += dy[n,k,o] · w[k,c,tap(i)]
              dx[n,c,src(p)] += dxe[n,c,p]      (the fold back onto the input)
              dw[k,c,tap(i)] += dy[n,k,o] · xe[n, g·C/G + c, o·s + i·dil]
              db[k]          += dy[n,k,o]

with xe the extended input (xe = x[src], 0 where src = -1), positions p of
xe counted from the start of the low padding, and tap(i) = i for
cross-correlation, k-1-i for convolution. All data are small integers, so
every sum is exact in float and double.

File format: a header comment, then one block per case:

    case <name>
    dims <d>
    mode convolution|cross-correlation
    boundary zeros|circular|reflect|replicate|symmetric
    padding <lo1> <hi1> [<lo2> <hi2>]
    stride <s1> [<s2>]
    dilation <dil1> [<dil2>]
    groups <G>
    output_padding <op1> [<op2>]   (PyTorch's, which gives dx's shape from dy's)
    x <rank> <sizes...> <values...>     forward input  [N, C, D...]
    w <rank> <sizes...> <values...>     weights        [K, C/G, k...]
    dy <rank> <sizes...> <values...>    output gradient [N, K, O...]
    y <rank> <sizes...> <values...>     forward output conv(x, w)
    dx <rank> <sizes...> <values...>    input gradient
    dw <rank> <sizes...> <values...>    weight gradient
    db <rank> <sizes...> <values...>    bias gradient [K]
    tbias <rank> <sizes...> <values...> a bias [C] for the transposed convolution
    ty <rank> <sizes...> <values...>    conv_transpose(dy, w) + tbias = dx + tbias[c]
    end
"""

import itertools
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden_grad.txt")

NP_MODE = {
    "zeros": "constant",
    "circular": "wrap",
    "reflect": "reflect",
    "replicate": "edge",
    "symmetric": "symmetric",
}


def ints(rng, shape):
    # Small integers keep every float sum exact; redraw the (unlikely) all-zero case.
    while True:
        a = rng.integers(-4, 5, size=shape).astype(np.float64)
        if a.size == 0 or np.any(a):
            return a


def tensor_line(tag, a):
    return " ".join([tag, str(a.ndim)] + [str(s) for s in a.shape] + [str(int(v)) for v in a.ravel()])


def source_map(D, lo, hi, boundary):
    """For each position of the extended axis, the input index it reads (-1: zero)."""
    idx = np.arange(D)
    if boundary == "zeros":
        return np.pad(idx, (lo, hi), mode="constant", constant_values=-1)
    return np.pad(idx, (lo, hi), mode=NP_MODE[boundary])


def compute(x, w, dy, mode, boundary, pads, strides, dils, G):
    N, C = x.shape[:2]
    K, Cg = w.shape[:2]
    D = x.shape[2:]
    ks = w.shape[2:]
    d = len(D)
    Kg = K // G
    # Output sizes, from the definition.
    O = tuple((D[a] + pads[a][0] + pads[a][1] - dils[a] * (ks[a] - 1) - 1) // strides[a] + 1 for a in range(d))
    assert dy.shape == (N, K) + O
    src = [source_map(D[a], pads[a][0], pads[a][1], boundary) for a in range(d)]
    ext = tuple(len(s) for s in src)

    # The explicitly extended input.
    xe = np.zeros((N, C) + ext)
    for p in itertools.product(*[range(e) for e in ext]):
        q = tuple(src[a][p[a]] for a in range(d))
        if min(q) >= 0:
            xe[(slice(None), slice(None)) + p] = x[(slice(None), slice(None)) + q]

    def tap(i):
        return tuple(ks[a] - 1 - i[a] if mode == "convolution" else i[a] for a in range(d))

    y = np.zeros((N, K) + O)
    dxe = np.zeros((N, C) + ext)
    dw = np.zeros(w.shape)
    for n in range(N):
        for k in range(K):
            g = k // Kg
            for c in range(Cg):
                ci = g * Cg + c
                for o in itertools.product(*[range(s) for s in O]):
                    for i in itertools.product(*[range(s) for s in ks]):
                        p = tuple(o[a] * strides[a] + i[a] * dils[a] for a in range(d))
                        wt = w[(k, c) + tap(i)]
                        y[(n, k) + o] += xe[(n, ci) + p] * wt
                        dxe[(n, ci) + p] += dy[(n, k) + o] * wt
                        dw[(k, c) + tap(i)] += dy[(n, k) + o] * xe[(n, ci) + p]
    # Fold the extended gradient back onto the input elements each position read.
    dx = np.zeros(x.shape)
    for p in itertools.product(*[range(e) for e in ext]):
        q = tuple(src[a][p[a]] for a in range(d))
        if min(q) >= 0:
            dx[(slice(None), slice(None)) + q] += dxe[(slice(None), slice(None)) + p]
    db = dy.sum(axis=tuple([0] + list(range(2, 2 + d))))
    # Self-check, the adjoint identities: <y, dy> = <x, dx> = <w, dw> (y is linear in x and in w).
    assert np.sum(y * dy) == np.sum(x * dx) == np.sum(w * dw)
    # PyTorch's output_padding: what the transposed convolution's size formula
    # leaves over to reach D.
    op = tuple(D[a] - ((O[a] - 1) * strides[a] - pads[a][0] - pads[a][1] + dils[a] * (ks[a] - 1) + 1)
               for a in range(d))
    for a in range(d):
        assert 0 <= op[a] < max(strides[a], dils[a]), (op, strides, dils)
    return y, dx, dw, db, op


cases = []


def add(rng, name, mode, boundary, x_shape, w_shape, pads, strides=None, dils=None, G=1):
    d = len(x_shape) - 2
    strides = strides or (1,) * d
    dils = dils or (1,) * d
    assert len(w_shape) == d + 2 and len(pads) == d and len(strides) == d and len(dils) == d
    for a in range(d):  # PyTorch's (and convkit's) limits on the padding
        D = x_shape[2 + a]
        if boundary in ("circular", "symmetric"):
            assert max(pads[a]) <= D, name
        if boundary == "reflect":
            assert max(pads[a]) < D, name
    x = ints(rng, x_shape)
    w = ints(rng, w_shape)
    N, C = x_shape[:2]
    K = w_shape[0]
    assert C == w_shape[1] * G and K % G == 0
    O = tuple((x_shape[2 + a] + pads[a][0] + pads[a][1] - dils[a] * (w_shape[2 + a] - 1) - 1) // strides[a] + 1
              for a in range(d))
    dy = ints(rng, (N, K) + O)
    y, dx, dw, db, op = compute(x, w, dy, mode, boundary, pads, strides, dils, G)
    tbias = ints(rng, (C,))
    ty = dx + tbias.reshape((1, C) + (1,) * d)
    for a in (y, dx, dw, db, ty):
        assert np.all(a == np.round(a)) and np.max(np.abs(a), initial=0) < 2 ** 24, name
    cases.append("\n".join([
        "case " + name,
        "dims %d" % d,
        "mode " + mode,
        "boundary " + boundary,
        "padding " + " ".join("%d %d" % lohi for lohi in pads),
        "stride " + " ".join(str(s) for s in strides),
        "dilation " + " ".join(str(s) for s in dils),
        "groups %d" % G,
        "output_padding " + " ".join(str(v) for v in op),
        tensor_line("x", x),
        tensor_line("w", w),
        tensor_line("dy", dy),
        tensor_line("y", y),
        tensor_line("dx", dx),
        tensor_line("dw", dw),
        tensor_line("db", db),
        tensor_line("tbias", tbias),
        tensor_line("ty", ty),
        "end",
    ]))


CONV = "convolution"
CORR = "cross-correlation"


def main():
    rng = np.random.default_rng(20261203)
    # 1-D: every boundary, both modes, stride, dilation, groups, asymmetric padding.
    # Stride 2 over 10 samples with a 3-tap kernel: the last sample is read by
    # no output (its gradient is 0; output_padding 1 picks D = 10 over 9).
    add(rng, "1d_zeros_xcorr_stride2_unread_tail", CORR, "zeros", (2, 2, 10), (3, 2, 3), [(0, 0)], strides=(2,))
    add(rng, "1d_zeros_conv_groups2", CONV, "zeros", (2, 4, 6), (2, 2, 2), [(1, 1)], G=2)
    add(rng, "1d_circular_conv_asym", CONV, "circular", (1, 1, 7), (2, 1, 4), [(3, 1)])
    add(rng, "1d_reflect_xcorr_dil2", CORR, "reflect", (2, 1, 8), (1, 1, 3), [(3, 2)], dils=(2,))
    add(rng, "1d_replicate_conv_asym_stride2", CONV, "replicate", (1, 2, 6), (2, 2, 3), [(3, 0)], strides=(2,))
    add(rng, "1d_symmetric_xcorr_stride2", CORR, "symmetric", (1, 1, 5), (2, 1, 4), [(2, 5)], strides=(2,))
    add(rng, "1d_symmetric_conv_dil2_pad_eq_D", CONV, "symmetric", (2, 1, 4), (1, 1, 3), [(4, 4)], dils=(2,))
    # 2-D
    add(rng, "2d_zeros_conv_stride2_asym", CONV, "zeros", (2, 2, 6, 7), (2, 2, 3, 2), [(1, 1), (0, 1)], strides=(2, 2))
    add(rng, "2d_circular_xcorr_dil2", CORR, "circular", (1, 2, 5, 6), (2, 2, 2, 3), [(2, 1), (1, 1)], dils=(2, 1))
    add(rng, "2d_reflect_conv_asym", CONV, "reflect", (1, 1, 5, 5), (2, 1, 3, 3), [(2, 1), (1, 3)])
    add(rng, "2d_replicate_xcorr_groups2_stride", CORR, "replicate", (1, 4, 4, 5), (4, 2, 3, 3), [(1, 1), (1, 1)],
        strides=(1, 2), G=2)
    add(rng, "2d_symmetric_conv_stride2_dil2", CONV, "symmetric", (1, 1, 7, 6), (2, 1, 2, 2), [(2, 2), (1, 3)],
        strides=(2, 2), dils=(2, 2))
    add(rng, "2d_symmetric_xcorr_asym_groups2", CORR, "symmetric", (2, 2, 4, 4), (2, 1, 3, 2), [(3, 0), (0, 2)], G=2)
    add(rng, "2d_zeros_xcorr_depthwise_stride_dil", CORR, "zeros", (1, 3, 7, 6), (3, 1, 2, 3), [(1, 0), (2, 2)],
        strides=(3, 2), dils=(2, 1), G=3)
    with open(OUT, "w") as f:
        f.write("# Golden gradient cases computed with NumPy. Generated by make_golden_grad.py;\n")
        f.write("# do not edit by hand. Format: see make_golden_grad.py.\n")
        f.write("\n\n".join(cases) + "\n")
    print("wrote %d cases to %s" % (len(cases), OUT))


if __name__ == "__main__":
    main()
