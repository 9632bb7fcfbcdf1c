"""convkit's statuses as Python exceptions, each with the library's message unchanged."""

import numpy as np
import pytest

import convkit
from convkit import _convkit


def test_invalid_argument_is_value_error_with_the_library_message():
    with pytest.raises(ValueError) as e:
        convkit.conv(np.ones((1, 1, 5)), np.ones((1, 1, 3)), padding=6, boundary="circular")
    msg = str(e.value)
    assert msg.startswith("convkit InvalidArgument: ")
    assert "circular" in msg and "(6, 6)" in msg and "D = 5" in msg


def test_shape_rules_come_from_the_library():
    with pytest.raises(ValueError, match="groups"):
        convkit.conv(np.ones((1, 3, 8)), np.ones((2, 1, 3)), groups=3)
    with pytest.raises(ValueError, match="convkit InvalidArgument"):
        convkit.conv(np.ones((1, 1, 2)), np.ones((1, 1, 5)))
    with pytest.raises(ValueError, match="stride"):
        convkit.conv(np.ones((1, 1, 8, 8)), np.ones((1, 1, 3, 3)), stride=(1, 1, 1))
    with pytest.raises(ValueError, match="convkit InvalidArgument"):
        convkit.conv(np.ones((8,)), np.ones((3,)))


def test_argument_names_are_checked_before_the_library():
    with pytest.raises(ValueError, match="boundary='mirror' is not one of"):
        convkit.conv(np.ones((1, 1, 8)), np.ones((1, 1, 3)), boundary="mirror")
    with pytest.raises(ValueError, match="mode="):
        convkit.conv(np.ones((1, 1, 8)), np.ones((1, 1, 3)), mode="conv")
    with pytest.raises(ValueError, match="algorithm="):
        convkit.conv(np.ones((1, 1, 8)), np.ones((1, 1, 3)), algorithm="winograd")
    with pytest.raises(TypeError, match="padding"):
        convkit.conv(np.ones((1, 1, 8)), np.ones((1, 1, 3)), padding=1.5)


def test_not_supported_is_not_implemented_error():
    with pytest.raises(NotImplementedError, match="Fft"):
        convkit.workspace_bytes((1, 1, 16), (1, 1, 3), algorithm="fft", direction="backward_data")


def test_error_class_carries_the_status():
    assert issubclass(convkit.Error, RuntimeError)
    e = convkit.Error("x")
    e.status = convkit.Status.NoDevice
    assert e.status == convkit.Status.NoDevice
    assert _convkit.status_name(convkit.Status.WorkspaceTooSmall) == "WorkspaceTooSmall"


def test_bias_without_spec_bias_and_wrong_bias_shape():
    with pytest.raises(ValueError, match="bias"):
        convkit.conv(np.ones((1, 1, 8)), np.ones((2, 1, 3)), np.ones(3))


@pytest.mark.parametrize("status, exc", [
    ("InvalidArgument", ValueError),
    ("NotSupported", NotImplementedError),
    ("OutOfMemory", MemoryError),
    ("WorkspaceTooSmall", convkit.Error),
    ("NoDevice", convkit.Error),
    ("CudaError", convkit.Error),
    ("CublasError", convkit.Error),
    ("CusparseError", convkit.Error),
    ("InternalError", convkit.Error),
    ("CufftError", convkit.Error),
])
def test_every_status_maps_to_its_exception(status, exc):
    st = getattr(convkit.Status, status)
    with pytest.raises(exc) as e:
        _convkit._raise_status(st, "a message naming the parameter, its value and the rule")
    # the library's what(), unchanged: convkit::Error prefixes the status name
    assert str(e.value) == f"convkit {status}: a message naming the parameter, its value and the rule"
    if exc is convkit.Error:
        assert e.value.status == st
