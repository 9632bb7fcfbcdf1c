"""The Python example runs (its plot only where matplotlib is installed)."""

import pathlib
import runpy

import pytest

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python" / "convolution_as_a_matrix.py"


@pytest.mark.skipif(not EXAMPLE.exists(), reason="examples/ not beside this test (installed elsewhere)")
def test_convolution_as_a_matrix_runs(tmp_path, capsys, monkeypatch):
    pytest.importorskip("scipy")
    monkeypatch.chdir(tmp_path)
    module = runpy.run_path(str(EXAMPLE))
    module["main"](str(tmp_path / "fig.png"))
    text = capsys.readouterr().out
    assert "T x == conv(x, w): True" in text
    assert "every block circulant: True" in text
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "skipping the plot" in text
    else:
        assert (tmp_path / "fig.png").stat().st_size > 0


EXAMPLES = EXAMPLE.parent


@pytest.mark.skipif(not (EXAMPLES / "train_cnn.py").exists(), reason="examples/ not beside this test")
def test_train_cnn_learns(capsys):
    pytest.importorskip("torch")
    module = runpy.run_path(str(EXAMPLES / "train_cnn.py"))
    accuracy = module["main"](40)
    assert accuracy >= 0.9, capsys.readouterr().out


@pytest.mark.skipif(not (EXAMPLES / "dask_filter.py").exists(), reason="examples/ not beside this test")
def test_dask_filter_agrees_with_one_call(capsys):
    pytest.importorskip("dask")
    module = runpy.run_path(str(EXAMPLES / "dask_filter.py"))
    assert module["main"](50_000)
    assert "chunked == one call: True" in capsys.readouterr().out
