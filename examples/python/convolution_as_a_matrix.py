"""Convolution as a matrix, from Python: what a student of the theory would check.

    python examples/python/convolution_as_a_matrix.py [figure.png]

1. A 1-D valid convolution is a Toeplitz matrix T times x (y = T x).
2. The flip: convolution and cross-correlation differ on an asymmetric kernel;
   convolution is correlation with the kernel reversed.
3. True convolution commutes: conv(x, w) == conv(w, x) with full padding.
4. A 2-D circular convolution is a doubly block circulant matrix, and a
   sparse one.
5. With matplotlib installed, both matrices are drawn to a PNG (default
   convolution_matrices.png); without it the plot is skipped.

NumPy arrays run through convkit's CPU reference (exact, float64
accumulation); every matrix is built by the library (toeplitz_matrix).
"""

import sys

import numpy as np

import convkit

np.set_printoptions(precision=3, suppress=True, linewidth=100)


def section(title):
    print(f"\n== {title}")


def main(png="convolution_matrices.png"):
    # 1. Toeplitz matrix of a 1-D valid convolution -------------------------
    section("1. 1-D valid convolution as a Toeplitz matrix")
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    w = np.array([1.0, 2.0, 3.0])
    spec = dict(mode="convolution", padding="valid")
    T1 = convkit.toeplitz_matrix((1, 1, x.size), w.reshape(1, 1, -1), **spec)
    y = convkit.conv(x.reshape(1, 1, -1), w.reshape(1, 1, -1), **spec).ravel()
    print(f"x = {x}, w = {w} (convolution: the kernel is flipped along each row)")
    print(f"T ({T1.shape[0]} x {T1.shape[1]}, constant along each diagonal):\n{T1.toarray()}")
    print(f"T x = {T1 @ x}\nconv = {y}")
    assert np.allclose(T1 @ x, y)

    # 2. The flip ---------------------------------------------------------------
    section("2. Convolution vs cross-correlation on an asymmetric kernel")
    step = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0])
    diff = np.array([1.0, -1.0, 0.0])  # asymmetric on purpose
    corr = convkit.conv(step.reshape(1, 1, -1), diff.reshape(1, 1, -1), padding="same").ravel()
    conv = convkit.conv(step.reshape(1, 1, -1), diff.reshape(1, 1, -1), padding="same", mode="convolution").ravel()
    flipped = convkit.conv(step.reshape(1, 1, -1), diff[::-1].reshape(1, 1, -1), padding="same").ravel()
    print(f"signal                 {step}\nkernel                 {diff}")
    print(f"cross-correlation      {corr}   (PyTorch's conv1d)")
    print(f"convolution            {conv}   (scipy.signal.convolve 'same')")
    print(f"correlation, reversed  {flipped}")
    print("convolution and correlation differ; convolution is correlation with the kernel reversed.")

    # 3. Commutativity ------------------------------------------------------------
    section("3. True convolution commutes (full padding, zero boundary)")
    a = np.array([1.0, -2.0, 0.5, 3.0])
    b = np.array([2.0, 1.0, -1.0])
    ab = convkit.conv(a.reshape(1, 1, -1), b.reshape(1, 1, -1), mode="convolution", padding="full").ravel()
    ba = convkit.conv(b.reshape(1, 1, -1), a.reshape(1, 1, -1), mode="convolution", padding="full").ravel()
    print(f"conv(a, b) = {ab}\nconv(b, a) = {ba}")
    assert np.allclose(ab, ba)
    print(f"cross-correlation does not: {convkit.signal.correlate(a, b)} vs {convkit.signal.correlate(b, a)}")

    # 4. Doubly block circulant ---------------------------------------------------
    section("4. 2-D circular convolution: a doubly block circulant matrix")
    n = 6
    img = np.arange(n * n, dtype=float).reshape(1, 1, n, n)
    k = np.array([[0.5, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).reshape(1, 1, 3, 3)  # a skewed Laplacian
    spec2 = dict(padding=1, boundary="circular")
    T2 = convkit.toeplitz_matrix(img.shape, k, **spec2)
    dense = T2.toarray()
    print(f"{n}x{n} image, 3x3 kernel, circular boundary: T is {T2.shape[0]} x {T2.shape[1]}, "
          f"{T2.nnz} stored entries (9 taps per row), density {T2.nnz / (T2.shape[0] * T2.shape[1]):.3f}")
    blocks = dense.reshape(n, n, n, n).transpose(0, 2, 1, 3)
    circulant_blocks = all(np.array_equal(blocks[i, j], blocks[(i + 1) % n, (j + 1) % n])
                           for i in range(n) for j in range(n))
    circulant_inside = all(np.array_equal(blocks[i, j], np.roll(np.roll(blocks[i, j], 1, 0), 1, 1))
                           for i in range(n) for j in range(n))
    print(f"block (i, j) depends only on (j - i) mod {n}: {circulant_blocks}; every block circulant: "
          f"{circulant_inside}")
    names = {0: "A", 1: "B", n - 1: "C"}  # kernel rows 1, 2 and 0 (the wrapped one)
    print("block pattern ('.' = zero block):")
    for i in range(n):
        print("   " + " ".join(names.get((j - i) % n, ".") if blocks[i, j].any() else "." for j in range(n)))
    for label, off in (("A", 0), ("B", 1), ("C", n - 1)):
        print(f"{label} = first row {blocks[0, off][0]}")
    y2 = convkit.conv(img, k, **spec2)
    assert np.allclose(T2 @ img.ravel(), y2.ravel())
    print("T x == conv(x, w): True")

    # 5. Plot ------------------------------------------------------------------------
    section("5. Plot")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping the plot (pip install matplotlib)")
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    D1 = T1.toarray()
    axes[0].imshow(D1, cmap="Blues")
    for (r, c), v in np.ndenumerate(D1):
        axes[0].text(c, r, f"{v:g}", ha="center", va="center")
    axes[0].set_xticks(range(D1.shape[1]))
    axes[0].set_yticks(range(D1.shape[0]))
    axes[0].set_title(f"1-D valid convolution with w = {w}: Toeplitz")
    axes[1].spy(T2, markersize=4)  # stored entries: the 9 taps of every row
    axes[1].set_title(f"2-D circular 3x3 on {n}x{n}: doubly block circulant")
    for i in range(1, n):
        axes[1].axhline(i * n - 0.5, color="0.8", lw=0.5)
        axes[1].axvline(i * n - 0.5, color="0.8", lw=0.5)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    print(f"wrote {png}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
