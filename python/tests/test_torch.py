"""convkit.torch: the custom operators against torch.nn.functional, opcheck, gradcheck, training, DDP, compile.

Skipped where PyTorch is not installed. CPU tensors run convkit's reference
(float64 accumulation), so on integer-valued float64 data the results equal
PyTorch's exactly. The GPU variants (marker gpu) rerun the comparisons and
gradcheck on CUDA tensors where a device is present.
"""

import os
import shutil
import subprocess
import sys
import time

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import convkit  # noqa: E402
import convkit.torch as ct  # noqa: E402

ops = torch.ops.convkit
F64 = torch.float64

CUDA = torch.cuda.is_available()

# PyTorch's own note on its padding='same' path with even kernels (the reference side of the comparison).
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")

# (d, x shape, w shape, kwargs): torch.nn.functional.conv{d}d's own arguments.
CONV_CASES = [
    (1, (2, 3, 11), (4, 3, 3), dict()),
    (1, (2, 4, 13), (6, 2, 4), dict(stride=2, padding=3, dilation=2, groups=2)),
    (1, (1, 2, 9), (3, 2, 4), dict(padding="same")),
    (1, (1, 2, 9), (3, 2, 5), dict(padding="same", dilation=2)),
    (1, (3, 1, 7), (2, 1, 3), dict(padding="valid", stride=3)),
    (1, (1, 2, 10), (2, 2, 3), dict(padding=(2,), stride=(2,))),
    (2, (2, 3, 9, 8), (4, 3, 3, 3), dict(padding=1)),
    (2, (1, 4, 10, 9), (4, 1, 3, 2), dict(stride=(2, 3), padding=(1, 0), dilation=(1, 2), groups=4)),
    (2, (2, 2, 7, 6), (3, 2, 2, 3), dict(padding="same")),
    (2, (2, 2, 7, 6), (3, 2, 2, 4), dict(padding="same", dilation=(2, 1))),
    (2, (1, 6, 8, 8), (4, 3, 3, 3), dict(padding="valid", groups=2, stride=2)),
    (3, (1, 2, 5, 6, 4), (3, 2, 2, 3, 2), dict(padding=1, stride=(1, 2, 1))),
    (3, (2, 4, 6, 5, 5), (4, 2, 3, 1, 2), dict(padding="same", groups=2, dilation=(1, 1, 2))),
    (3, (1, 2, 6, 6, 6), (2, 1, 3, 3, 3), dict(stride=2, padding=(1, 0, 2), groups=2)),
]

# (d, x shape, w shape (C_in, C_out/groups, k...), kwargs of conv_transpose{d}d).
TRANSPOSE_CASES = [
    (1, (2, 3, 6), (3, 2, 3), dict()),
    (1, (1, 4, 5), (4, 1, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
    (1, (2, 2, 7), (2, 3, 4), dict(stride=3, padding=2, output_padding=2, dilation=1)),
    (1, (1, 2, 6), (2, 2, 3), dict(stride=2, dilation=3, padding=1, output_padding=1)),
    (2, (2, 3, 4, 5), (3, 2, 3, 3), dict(stride=2, padding=1)),
    (2, (1, 4, 5, 4), (4, 3, 2, 3), dict(stride=(2, 1), padding=(0, 1), output_padding=(1, 0), groups=2,
                                         dilation=(1, 2))),
    (3, (1, 2, 3, 4, 3), (2, 2, 2, 3, 2), dict(stride=2, padding=(0, 1, 0), output_padding=(1, 0, 1))),
]

FUNCTIONAL = {1: (ct.conv1d, F.conv1d), 2: (ct.conv2d, F.conv2d), 3: (ct.conv3d, F.conv3d)}
TRANSPOSE = {1: (ct.conv_transpose1d, F.conv_transpose1d), 2: (ct.conv_transpose2d, F.conv_transpose2d),
             3: (ct.conv_transpose3d, F.conv_transpose3d)}


def _ints(shape, device="cpu", gen=None):
    return torch.randint(-4, 5, shape, generator=gen, dtype=torch.int64).to(device=device, dtype=F64)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _cpu(*tensors):
    # torch's side of a comparison runs on CPU: on CUDA, cuDNN may use TF32 for float32.
    return [None if t is None else t.cpu() for t in tensors]


def _ids(cases):
    return [f"{c[0]}d-{'-'.join(f'{k}={v}' for k, v in c[3].items()) or 'plain'}" for c in cases]


# ---------------------------------------------------------------------------
# Results equal torch.nn.functional's.

def _check_conv(d, xs, ws, kw, bias, device="cpu"):
    g = _gen(len(xs) + sum(ws))
    x, w = _ints(xs, device, g), _ints(ws, device, g)
    b = _ints((ws[0],), device, g) if bias else None
    ours, theirs = FUNCTIONAL[d]
    y = ours(x, w, b, **kw)
    assert y.dtype == F64 and y.device == x.device
    assert torch.equal(y.cpu(), theirs(*_cpu(x, w, b), **kw))
    # float32, random data: to rounding.
    x32, w32 = torch.randn(xs, generator=g).to(device), torch.randn(ws, generator=g).to(device)
    b32 = torch.randn((ws[0],), generator=g).to(device) if bias else None
    y32 = ours(x32, w32, b32, **kw)
    assert y32.dtype == torch.float32
    torch.testing.assert_close(y32.cpu(), theirs(*_cpu(x32, w32, b32), **kw), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("d, xs, ws, kw", CONV_CASES, ids=_ids(CONV_CASES))
def test_conv_equals_torch(d, xs, ws, kw, bias):
    _check_conv(d, xs, ws, kw, bias)


def _check_transpose(d, xs, ws, kw, bias, device="cpu"):
    g = _gen(7 + len(xs))
    x, w = _ints(xs, device, g), _ints(ws, device, g)
    groups = kw.get("groups", 1)
    b = _ints((ws[1] * groups,), device, g) if bias else None
    ours, theirs = TRANSPOSE[d]
    y = ours(x, w, b, **kw)
    assert torch.equal(y.cpu(), theirs(*_cpu(x, w, b), **kw))
    x32, w32 = torch.randn(xs, generator=g).to(device), torch.randn(ws, generator=g).to(device)
    y32 = ours(x32, w32, None, **kw)
    torch.testing.assert_close(y32.cpu(), theirs(*_cpu(x32, w32, None), **kw), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("d, xs, ws, kw", TRANSPOSE_CASES, ids=_ids(TRANSPOSE_CASES))
def test_conv_transpose_equals_torch(d, xs, ws, kw, bias):
    _check_transpose(d, xs, ws, kw, bias)


def test_unbatched_input():
    g = _gen(3)
    x, w, b = _ints((3, 9, 8), gen=g), _ints((2, 3, 3, 3), gen=g), _ints((2,), gen=g)
    y = ct.conv2d(x, w, b, padding=1)
    assert y.shape == (2, 9, 8)
    assert torch.equal(y, F.conv2d(x, w, b, padding=1))
    wt = _ints((3, 2, 3), gen=g)
    assert torch.equal(ct.conv_transpose1d(x[:, 0], wt, stride=2), F.conv_transpose1d(x[:, 0], wt, stride=2))


def test_non_contiguous_inputs():
    g = _gen(4)
    x = _ints((2, 3, 10, 9), gen=g).transpose(2, 3)
    w = _ints((4, 3, 3, 2), gen=g)[:, :, :, :]
    assert not x.is_contiguous()
    assert torch.equal(ct.conv2d(x, w, stride=2), F.conv2d(x, w, stride=2))


@pytest.mark.parametrize("padding_mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("d, padding, stride", [(1, 2, 1), (2, (1, 2), 2), (2, "same", 1), (3, 1, 1)])
def test_modules_padding_mode_equal_torch(padding_mode, d, padding, stride):
    """convkit.torch.ConvNd loads torch.nn.ConvNd's state dict; padding_mode is convkit's boundary."""
    theirs_cls = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}[d]
    ours_cls = {1: ct.Conv1d, 2: ct.Conv2d, 3: ct.Conv3d}[d]
    torch.manual_seed(d)
    theirs = theirs_cls(4, 6, 3, stride=stride, padding=padding, groups=2, padding_mode=padding_mode, dtype=F64)
    ours = ours_cls(4, 6, 3, stride=stride, padding=padding, groups=2, padding_mode=padding_mode, dtype=F64)
    assert ours.boundary == padding_mode
    ours.load_state_dict(theirs.state_dict())
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randint(-4, 5, p.shape))
    ours.load_state_dict(theirs.state_dict())
    x = _ints((2, 4) + (7,) * d, gen=_gen(d))
    assert torch.equal(ours(x), theirs(x))
    # And back: torch's module loads convkit's.
    theirs.load_state_dict(ours.state_dict())


def test_module_extras_and_repr():
    m = ct.Conv2d(2, 3, 3, padding=1, bias=False, mode="convolution", boundary="symmetric", algorithm="reference")
    r = repr(m)
    assert "mode='convolution'" in r and "boundary='symmetric'" in r and "algorithm='reference'" in r
    x = torch.randn(1, 2, 5, 5)
    w = m.weight.detach()
    ref = convkit.conv(x, w, padding=1, mode="convolution", boundary="symmetric")
    torch.testing.assert_close(m(x), ref)
    with pytest.raises(ValueError, match="disagree"):
        ct.Conv2d(2, 3, 3, padding_mode="reflect", boundary="circular")
    assert isinstance(ct.Conv2d(2, 3, 3), torch.nn.Conv2d)


def test_mode_convolution_flips_the_kernel():
    g = _gen(5)
    x, w = _ints((2, 2, 9, 7), gen=g), _ints((3, 2, 3, 2), gen=g)
    assert torch.equal(ct.conv2d(x, w, mode="convolution", padding=1), F.conv2d(x, w.flip(2, 3), padding=1))


def test_errors():
    x, w = torch.randn(1, 2, 8), torch.randn(3, 2, 3)
    with pytest.raises(ValueError, match="dtype"):
        ct.conv1d(x, w.double())
    with pytest.raises(ValueError, match="groups|C/groups"):
        ct.conv1d(x, w, groups=2)
    with pytest.raises(ValueError):
        ct.conv1d(x, w, padding="same", stride=2)
    with pytest.raises(ValueError, match="2-D .unbatched. or 3-D"):
        ct.conv1d(x[0, 0], w)
    with pytest.raises(ValueError, match="transposed"):
        ct.conv_transpose1d(x, w.transpose(0, 1), padding="same")


def test_docstring_examples():
    import doctest
    result = doctest.testmod(ct, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_import_convkit_does_not_import_torch():
    code = "import sys, convkit; assert 'torch' not in sys.modules, 'convkit imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.path.dirname(__file__) + "/../..")


# ---------------------------------------------------------------------------
# opcheck: schema, autograd registration, fake tensors, AOT dispatch with dynamic shapes.

def _rand(shape, requires_grad=True, device="cpu"):
    return torch.randn(shape, dtype=F64, device=device, requires_grad=requires_grad)


# (stride, padding (lo, hi) flat, padding_name, dilation, groups, mode, boundary, algorithm)
OP_SPECS = [
    ([2, 1], [1, 1, 0, 1], "", [1, 2], 2, "correlation", "zeros", "auto"),
    ([1, 1], [], "same", [1, 1], 1, "convolution", "reflect", "auto"),
    ([1, 2], [2, 1, 1, 1], "", [1, 1], 2, "correlation", "circular", "auto"),
]


@pytest.mark.parametrize("spec", OP_SPECS, ids=["zeros-strided", "same-reflect-convolution", "circular"])
def test_opcheck(spec):
    x, w, b = _rand((2, 4, 6, 5)), _rand((6, 4 // spec[4], 3, 2)), _rand((6,))
    torch.library.opcheck(ops.conv.default, (x, w, b, *spec))
    torch.library.opcheck(ops.conv.default, (x, w, None, *spec))
    y = ops.conv(x, w, b, *spec)
    dy = _rand(tuple(y.shape))
    torch.library.opcheck(ops.conv_backward_data.default, (list(x.shape), w, dy, *spec))
    torch.library.opcheck(ops.conv_backward_filter.default, (x, list(w.shape), dy, *spec))
    torch.library.opcheck(ops.conv_backward_bias.default, (dy,))
    if spec[2]:
        return
    stride, pads, _, dil, groups, mode, boundary, algo = spec
    # conv_transpose: input of the forward output's shape, output_padding 0 (any y-size that maps back).
    wt = _rand((4, 6 // groups, 3, 2))
    torch.library.opcheck(ops.conv_transpose.default,
                          (_rand((2, 4, 5, 3)), wt, _rand((6,)), stride, pads, [0, 0], groups, dil, mode, boundary,
                           algo))


# ---------------------------------------------------------------------------
# gradcheck / gradgradcheck (double, small shapes) in input, weight and bias.

GRAD_CASES = [
    (1, (2, 2, 7), (3, 2, 3), dict(stride=2, padding=1)),
    (1, (1, 2, 6), (2, 1, 3), dict(padding=2, groups=2, boundary="reflect")),
    (1, (1, 1, 6), (2, 1, 3), dict(padding=(2,), dilation=2, boundary="circular", mode="convolution")),
    (1, (1, 1, 5), (1, 1, 4), dict(padding="same", boundary="replicate")),
    (2, (1, 2, 5, 4), (2, 2, 3, 2), dict(padding=1, stride=(2, 1), boundary="reflect", mode="convolution")),
    (2, (1, 2, 4, 5), (4, 1, 2, 3), dict(padding=((1, 0), (2, 1)), groups=2, boundary="circular")),
    (2, (1, 1, 4, 4), (1, 1, 2, 2), dict(padding=1, boundary="symmetric")),
    (3, (1, 1, 3, 4, 3), (2, 1, 2, 2, 2), dict(padding=1, stride=2)),
]


def _grad_args(xs, ws, bias_size, device="cpu"):
    return _rand(xs, device=device), _rand(ws, device=device), _rand((bias_size,), device=device)


@pytest.mark.parametrize("d, xs, ws, kw", GRAD_CASES, ids=_ids(GRAD_CASES))
def test_gradcheck_conv(d, xs, ws, kw):
    fn = FUNCTIONAL[d][0]
    args = _grad_args(xs, ws, ws[0])
    assert torch.autograd.gradcheck(lambda x, w, b: fn(x, w, b, **kw), args)
    assert torch.autograd.gradgradcheck(lambda x, w, b: fn(x, w, b, **kw), args)


TRANSPOSE_GRAD_CASES = [
    (1, (2, 2, 4), (2, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    (1, (1, 2, 5), (2, 1, 3), dict(padding=1, groups=2, boundary="reflect", mode="convolution")),
    (1, (1, 2, 5), (2, 1, 3), dict(padding=2, stride=1, boundary="circular")),
    (2, (1, 2, 3, 3), (2, 2, 3, 2), dict(stride=2, padding=(1, 0), dilation=(1, 2))),
    (2, (1, 2, 4, 4), (2, 1, 3, 3), dict(padding=1, boundary="reflect", mode="convolution")),
]


@pytest.mark.parametrize("d, xs, ws, kw", TRANSPOSE_GRAD_CASES, ids=_ids(TRANSPOSE_GRAD_CASES))
def test_gradcheck_conv_transpose(d, xs, ws, kw):
    fn = TRANSPOSE[d][0]
    args = _grad_args(xs, ws, ws[1] * kw.get("groups", 1))
    assert torch.autograd.gradcheck(lambda x, w, b: fn(x, w, b, **kw), args)
    assert torch.autograd.gradgradcheck(lambda x, w, b: fn(x, w, b, **kw), args)


def test_gradients_equal_torch():
    """On integer data the three gradients equal torch's exactly (zero boundary, where torch defines them)."""
    g = _gen(11)
    x, w, b = _ints((2, 4, 9, 8), gen=g), _ints((6, 2, 3, 2), gen=g), _ints((6,), gen=g)
    kw = dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)
    dy = _ints(tuple(F.conv2d(x, w, b, **kw).shape), gen=g)
    ours = torch.autograd.grad(ct.conv2d(*(t.requires_grad_() for t in (x, w, b)), **kw), (x, w, b), dy)
    theirs = torch.autograd.grad(F.conv2d(x, w, b, **kw), (x, w, b), dy)
    for a, e in zip(ours, theirs):
        assert torch.equal(a, e)


# ---------------------------------------------------------------------------
# Training: two convkit Conv2d layers follow torch's two Conv2d layers step for step.

def _model(conv_cls, padding_mode):
    return torch.nn.Sequential(
        conv_cls(3, 8, 3, padding=1, padding_mode=padding_mode, dtype=F64),
        torch.nn.ReLU(),
        conv_cls(8, 2, 3, stride=2, padding=1, groups=2, dtype=F64),
    )


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect"])
def test_training_matches_torch(padding_mode):
    torch.manual_seed(0)
    theirs = _model(torch.nn.Conv2d, padding_mode)
    ours = _model(ct.Conv2d, padding_mode)
    ours.load_state_dict(theirs.state_dict())
    g = _gen(1)
    x, target = torch.randn(4, 3, 10, 10, generator=g, dtype=F64), torch.randn(4, 2, 5, 5, generator=g, dtype=F64)
    opts = [torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in (theirs, ours)]
    for _ in range(5):
        losses = []
        for m, opt in zip((theirs, ours), opts):
            opt.zero_grad()
            loss = F.mse_loss(m(x), target)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[1] == pytest.approx(losses[0], rel=1e-12)
    for (name, p), q in zip(theirs.named_parameters(), ours.parameters()):
        torch.testing.assert_close(q, p, rtol=1e-12, atol=1e-12, msg=name)


# ---------------------------------------------------------------------------
# DDP: two processes (gloo, CPU), half the batch each, give one process's gradients on the whole batch.

def _ddp_available():
    import torch.distributed as dist
    return dist.is_available() and dist.is_gloo_available()


@pytest.mark.skipif(not _ddp_available(), reason="torch.distributed with gloo is not available")
def test_ddp_two_processes_equal_one(tmp_path):
    import torch_ddp_worker as worker  # python/tests, on sys.path (pytest's pythonpath, inherited by spawn)

    torch.manual_seed(0)
    model = worker.make_model(ct)
    g = _gen(2)
    x, target = torch.randn(4, 3, 8, 8, generator=g, dtype=F64), torch.randn(4, 2, 4, 4, generator=g, dtype=F64)
    torch.save({"state": model.state_dict(), "x": x, "target": target}, tmp_path / "inputs.pt")

    F.mse_loss(model(x), target).backward()
    expected = {n: p.grad for n, p in model.named_parameters()}

    t = time.monotonic()
    torch.multiprocessing.spawn(worker.run, args=(2, str(tmp_path)), nprocs=2, join=True)
    assert time.monotonic() - t < 60
    for rank in range(2):
        got = torch.load(tmp_path / f"grads{rank}.pt")
        assert set(got) == set(expected)
        for n in expected:
            torch.testing.assert_close(got[n], expected[n], rtol=1e-10, atol=1e-12, msg=f"rank {rank}: {n}")


# ---------------------------------------------------------------------------
# torch.compile: the operator is in the graph, with no break.

def _compile_fn(x, w, b):
    return torch.relu(ct.conv2d(x, w, b, padding=1, boundary="reflect")) * 2


def test_compile_has_no_graph_break():
    x, w, b = torch.randn(2, 3, 8, 8), torch.randn(4, 3, 3, 3), torch.randn(4)
    torch._dynamo.reset()
    explanation = torch._dynamo.explain(_compile_fn)(x, w, b)
    assert explanation.graph_break_count == 0 and explanation.graph_count == 1
    targets = [n.target for n in explanation.graphs[0].graph.nodes if n.op == "call_function"]
    assert ops.conv.default in targets


def _have_cxx():
    return any(shutil.which(c) for c in ("g++", "c++", "clang++"))


@pytest.mark.skipif(not _have_cxx(), reason="inductor needs a C++ compiler on CPU")
def test_compile_inductor_forward():
    """fullgraph=True raises on any graph break; inductor compiles around the opaque operator."""
    x, w, b = torch.randn(2, 3, 8, 8), torch.randn(4, 3, 3, 3), torch.randn(4)
    torch._dynamo.reset()
    compiled = torch.compile(_compile_fn, fullgraph=True)
    torch.testing.assert_close(compiled(x, w, b), _compile_fn(x, w, b))


def test_compile_aot_eager_backward():
    """Forward and backward traced by AOTAutograd through the fake kernels (backward ops included)."""
    x, w, b = (torch.randn(s, dtype=F64, requires_grad=True) for s in ((2, 3, 8, 8), (4, 3, 3, 3), (4,)))
    torch._dynamo.reset()
    compiled = torch.compile(_compile_fn, fullgraph=True, backend="aot_eager")
    y = compiled(x, w, b)
    grads = torch.autograd.grad(y.square().sum(), (x, w, b))
    expected = torch.autograd.grad(_compile_fn(x, w, b).square().sum(), (x, w, b))
    for a, e in zip(grads, expected):
        torch.testing.assert_close(a, e)


# ---------------------------------------------------------------------------
# GPU: the same comparisons and gradcheck on CUDA tensors (the GPU algorithms, zero-copy).

@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("d, xs, ws, kw", CONV_CASES, ids=_ids(CONV_CASES))
@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_gpu_conv_equals_torch(d, xs, ws, kw, bias):
    _check_conv(d, xs, ws, kw, bias, device="cuda")


@pytest.mark.parametrize("d, xs, ws, kw", TRANSPOSE_CASES, ids=_ids(TRANSPOSE_CASES))
@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_gpu_conv_transpose_equals_torch(d, xs, ws, kw):
    _check_transpose(d, xs, ws, kw, True, device="cuda")


@pytest.mark.parametrize("d, xs, ws, kw", GRAD_CASES, ids=_ids(GRAD_CASES))
@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_gpu_gradcheck_conv(d, xs, ws, kw):
    fn = FUNCTIONAL[d][0]
    args = _grad_args(xs, ws, ws[0], device="cuda")
    assert torch.autograd.gradcheck(lambda x, w, b: fn(x, w, b, **kw), args)


@pytest.mark.parametrize("d, xs, ws, kw", TRANSPOSE_GRAD_CASES, ids=_ids(TRANSPOSE_GRAD_CASES))
@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_gpu_gradcheck_conv_transpose(d, xs, ws, kw):
    fn = TRANSPOSE[d][0]
    args = _grad_args(xs, ws, ws[1] * kw.get("groups", 1), device="cuda")
    assert torch.autograd.gradcheck(lambda x, w, b: fn(x, w, b, **kw), args)


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_gpu_training_matches_torch():
    torch.manual_seed(0)
    theirs = _model(torch.nn.Conv2d, "zeros").cuda()
    ours = _model(ct.Conv2d, "zeros").cuda()
    ours.load_state_dict(theirs.state_dict())
    x, target = torch.randn(4, 3, 10, 10, dtype=F64, device="cuda"), torch.randn(4, 2, 5, 5, dtype=F64, device="cuda")
    for m in (theirs, ours):
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        for _ in range(3):
            opt.zero_grad()
            F.mse_loss(m(x), target).backward()
            opt.step()
    for p, q in zip(theirs.parameters(), ours.parameters()):
        torch.testing.assert_close(q, p, rtol=1e-9, atol=1e-9)


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_gpu_runs_on_the_current_stream():
    """Forward and backward enqueue on the caller's stream (torch.cuda.stream), allocate on the input's device."""
    g = _gen(9)
    x, w, b = (_ints(s, "cuda", g).requires_grad_() for s in ((2, 4, 32, 32), (8, 4, 3, 3), (8,)))
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        y = ct.conv2d(x, w, b, padding=1)
        y.sum().backward()
    s.synchronize()
    xc, wc, bc = (t.detach().cpu().requires_grad_() for t in (x, w, b))
    yc = F.conv2d(xc, wc, bc, padding=1)
    yc.sum().backward()
    assert y.device == x.device and torch.equal(y.cpu(), yc.detach())
    for a, e in ((x, xc), (w, wc), (b, bc)):
        assert torch.equal(a.grad.cpu(), e.grad)


def test_compile_modules_no_graph_break():
    """A model of convkit.torch.Conv2d layers: one graph, forward and backward through AOTAutograd."""
    torch.manual_seed(3)
    model = _model(ct.Conv2d, "reflect")
    x = torch.randn(2, 3, 9, 9, dtype=F64)
    torch._dynamo.reset()
    assert torch._dynamo.explain(model)(x).graph_break_count == 0
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    compiled(x).square().sum().backward()
    got = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model(x).square().sum().backward()
    for a, p in zip(got, model.parameters()):
        torch.testing.assert_close(a, p.grad)
