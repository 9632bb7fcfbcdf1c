#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (corpus/<target>/): small valid
inputs, shaped like what convkit's own writers produce, and near-valid ones a
mutation or two away from the reader's branches. Run it from anywhere; it
rewrites only the seeds it names (inputs added by hand -- regression inputs
from fixed findings -- are left alone).

Usage: python3 tests/fuzz/make_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ------------------------------------------------------------ Matrix Market
# What write_matrix_market writes for the README's 1-D example (x = 1..5,
# w = [1 2 3], valid padding), and variants of the format's optional parts.
MM = "%%MatrixMarket matrix coordinate real general\n"
mm = {
    "writer_1d": MM + "% convkit Toeplitz matrix of conv1d N=1 C=1 K=1 G=1 in=5 k=3 out=3 s=1 dil=1 "
    "pad=(0,0) cross-correlation zeros\n3 5 9\n1 1 1\n1 2 2\n1 3 3\n2 2 1\n2 3 2\n2 4 3\n3 3 1\n3 4 2\n3 5 3\n",
    "writer_2d_circular": MM + "% convkit Toeplitz matrix of conv2d N=1 C=1 K=1 G=1 in=2x2 k=2x2 out=2x2 s=1x1 "
    "dil=1x1 pad=(0,1),(0,1) cross-correlation circular\n4 4 16\n"
    + "".join(f"{r} {c} {v}\n" for r in range(1, 5) for c, v in zip(range(1, 5), (0.5, -1.25, 3, 1e-07))),
    "empty": MM + "0 0 0\n",
    "no_entries": MM + "4 7 0\n",
    "integer_field": "%%MatrixMarket matrix coordinate integer general\n2 2 2\n1 1 3\n2 2 -4\n",
    "double_field_upper": "%%MATRIXMARKET MATRIX COORDINATE DOUBLE GENERAL\n1 1 1\n1 1 2.5e-3\n",
    "duplicates_unsorted": MM + "3 3 5\n3 1 1\n1 3 2\n3 1 4\n2 2 -0.5\n1 1 1e30\n",
    "comments_blank_crlf": MM.replace("\n", "\r\n") + "%\r\n\r\n% more\r\n  \t\r\n2 3 1\r\n2 3 7\r\n",
    "exponents": MM + "2 2 3\n1 1 -1.5E+2\n2 1 .25\n2 2 4e-310\n",
    "tall": MM + "100000 1 2\n1 1 1\n100000 1 2\n",
    "wide": MM + "1 100000 2\n1 1 1\n1 100000 2\n",
    # Near-valid: each is rejected (InvalidArgument) for one reason.
    "bad_symmetric": "%%MatrixMarket matrix coordinate real symmetric\n2 2 1\n1 1 1\n",
    "bad_array": "%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n4\n",
    "bad_complex": "%%MatrixMarket matrix coordinate complex general\n1 1 1\n1 1 1 0\n",
    "bad_missing_entry": MM + "2 2 3\n1 1 1\n2 2 1\n",
    "bad_out_of_range": MM + "2 2 1\n3 1 1\n",
    "bad_zero_index": MM + "2 2 1\n0 1 1\n",
    "bad_negative_size": MM + "-1 2 0\n",
    "bad_size_line": MM + "2 x 1\n1 1 1\n",
    "bad_banner": "%MatrixMarket matrix coordinate real general\n1 1 1\n1 1 1\n",
    "bad_value": MM + "1 1 1\n1 1 abc\n",
}
for name, text in mm.items():
    write("fuzz_matrix_market", name, text)

# -------------------------------------------------------------- tuning file
# One key per line, as the tuner appends them: key TAB Algorithm=setup/run
# (setprecision 9) ... or Algorithm=failed.
KEY = ("NVIDIA H100 80GB HBM3 sm_90 x132 | convkit 0.1.0 | conv2d N=8 C=64 K=64 G=1 in=56x56 k=3x3 "
       "out=56x56 s=1x1 dil=1x1 pad=(1,1),(1,1) cross-correlation zeros | f32 | tf32=0 | ws=18446744073709551615")
tuning = {
    "writer_one_key": KEY + "\tDirect=1.23456789/0.0412345678\tIm2colGemm=2.5/0.03125\tSparseToeplitz=40.125/0.9\n",
    "writer_failed": KEY + "\tDirect=1/0.5\tSparseToeplitz=failed\n",
    "two_keys": KEY + "\tDirect=1/0.5\n" + KEY.replace("f32", "f64") + "\tIm2colGemm=1.5/0.25\n",
    "blank_lines": "\n" + KEY + "\tDirect=1e-3/2E+1\n\n",
    "empty": "",
    "no_newline": "k\tIm2colGemm=1/2",
    # Near-valid: each is rejected for one reason.
    "bad_algorithm": "some key\tNoSuchAlgorithm=1/2\n",
    "bad_no_timings": KEY + "\n",
    "bad_no_slash": "k\tDirect=1\n",
    "bad_timing": "k\tDirect=x/2\n",
    "bad_huge_timing": "k\tDirect=1e999/2\n",
    "bad_no_equals": "k\tDirect\n",
}
for name, text in tuning.items():
    write("fuzz_tuning_file", name, text)

# --------------------------------------------------------------------- spec
# The byte layout fuzz_spec.cpp documents.


def num(v):
    if -8 <= v <= 55:
        return bytes([(v + 8) << 2])
    if -128 <= v <= 127:
        return bytes([1]) + struct.pack("<b", v)
    if -2**31 <= v < 2**31:
        return bytes([2]) + struct.pack("<i", v)
    return bytes([3]) + struct.pack("<q", v)


def lst(vals):
    if isinstance(vals, int):
        return bytes([0]) + num(vals)
    return bytes([len(vals)]) + b"".join(num(v) for v in vals)


def padding(p):
    named = {"valid": 0, "same": 1, "full": 2}
    if isinstance(p, str):
        return bytes([named[p]])
    if isinstance(p, int):
        return bytes([3]) + num(p)
    return bytes([4, len(p)]) + b"".join(num(lo) + num(hi) for lo, hi in p)


def shape(dims):
    return bytes([len(dims)]) + b"".join(num(d) for d in dims)


def spec(dims, x, w, stride=1, dilation=1, pad="valid", groups=1, mode=0, boundary=0, bias=0, dtype=0,
         width=0, algo=0):
    return (num(dims) + lst(stride) + lst(dilation) + padding(pad) + num(groups)
            + struct.pack("<bbBbbb", mode, boundary, bias, dtype, width, algo) + shape(x) + shape(w))


specs = {
    "signal1d": spec(1, [1, 1, 1000], [1, 1, 31], pad="same"),
    "readme_1d": spec(1, [1, 1, 5], [1, 1, 3]),
    "image2d_same": spec(2, [1, 1, 64, 48], [1, 1, 5, 5], pad="same", mode=1, boundary=2),
    "resnet_layer": spec(2, [8, 64, 56, 56], [64, 64, 3, 3], pad=1, bias=1),
    "depthwise_strided": spec(2, [2, 32, 17, 13], [32, 1, 3, 3], stride=[2, 1], dilation=[1, 2], groups=32,
                              pad=[(1, 2), (0, 1)], boundary=3),
    "conv3d_f64": spec(3, [1, 4, 9, 10, 11], [6, 2, 3, 2, 1], groups=2, pad="full", dtype=1, boundary=1,
                       width=2),
    "one_by_one": spec(2, [4, 16, 7, 7], [32, 16, 1, 1]),
    "empty_batch": spec(2, [0, 3, 8, 8], [5, 3, 3, 3]),
    "wide_index": spec(1, [1, 1, 3_000_000_000], [1, 1, 2], width=1),
    # Near-valid: each breaks one rule.
    "bad_dims": spec(4, [1, 1, 4, 4, 4, 4], [1, 1, 2, 2, 2, 2]),
    "bad_rank": spec(2, [1, 1, 8], [1, 1, 3, 3]),
    "bad_groups": spec(2, [1, 6, 8, 8], [4, 3, 3, 3], groups=4),
    "bad_stride_zero": spec(2, [1, 1, 8, 8], [1, 1, 3, 3], stride=0),
    "bad_stride_count": spec(2, [1, 1, 8, 8], [1, 1, 3, 3], stride=[1, 2, 3, 4]),
    "bad_reflect_pad": spec(1, [1, 1, 4], [1, 1, 3], pad=4, boundary=2),
    "bad_same_strided": spec(1, [1, 1, 10], [1, 1, 3], stride=2, pad="same"),
    "bad_kernel_too_big": spec(1, [1, 1, 3], [1, 1, 5]),
    "bad_negative": spec(2, [1, 1, -8, 8], [1, 1, 3, 3], pad=-1),
    "bad_enums": spec(2, [1, 1, 8, 8], [1, 1, 3, 3], mode=7, boundary=-3, dtype=9, width=5, algo=42),
    "huge_sizes": spec(2, [2**40, 2**20, 2**31, 2**31], [2**20, 1, 2**31 - 1, 1], dilation=2**62, pad=2**62 - 1),
}
for name, data in specs.items():
    write("fuzz_spec", name, data)
