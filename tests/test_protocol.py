"""The plain-data protocol: what crosses the trust boundary, and what never does."""

import io
import os
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from autograder.worker import protocol


@pytest.mark.parametrize("value", [
    None, True, 3, 2.5, float("nan"), "text", b"\x00raw bytes", [1, "a", None], (1, 2), {"k": [1, 2]},
    np.arange(6).reshape(2, 3), np.array([True, False]), np.array(["a", "bc"]), np.float32(1.5),
    [b"mail one", b"mail two"],
])
def test_round_trip(value):
    decoded = protocol.decode(protocol.encode({"ok": value}))["ok"]
    if isinstance(value, np.ndarray):
        np.testing.assert_array_equal(decoded, value)
        assert decoded.dtype == value.dtype
    elif isinstance(value, float) and value != value:
        assert decoded != decoded
    else:
        assert decoded == value and type(decoded) is type(value if not isinstance(value, np.generic) else value.item())


def test_dataframes_cross_as_csv():
    frame = pd.DataFrame({"Age": [22.0, None], "Sex": ["male", "female"]})
    decoded = protocol.decode(protocol.encode(frame))
    pd.testing.assert_frame_equal(decoded, frame, check_dtype=False)


@pytest.mark.parametrize("value", [np.array([object()], dtype=object), object(), {1: "int key"}, {"a": {1, 2}}])
def test_non_plain_values_are_refused(value):
    with pytest.raises(protocol.Unencodable):
        protocol.encode(value)


def test_a_pickled_array_is_refused_not_loaded():
    """A worker that forges a pickled object array in place of an .npy blob gets a ProtocolError."""
    message = protocol.encode({"ok": np.zeros(1)})
    start = message.index(b"\x93NUMPY")  # the array's .npy blob, after its 8-byte length
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array([object()], dtype=object), allow_pickle=True)
    forged = message[:start - 8] + len(buffer.getvalue()).to_bytes(8, "little") + buffer.getvalue()
    with pytest.raises(protocol.ProtocolError, match="Object arrays cannot be loaded"):
        protocol.decode(forged)


@pytest.mark.parametrize("data", [b"", b"\x05\x00\x00\x00\x00\x00\x00\x00{bad", b"\xff" * 16])
def test_malformed_messages_raise_protocol_error(data):
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(data)


def test_a_reply_is_refused_from_its_headers_before_its_body_is_read():
    """A frame whose JSON part claims 900 MB is refused after reading 8 bytes of it: the grader
    neither waits for nor buffers the rest (the worker has not even sent it)."""
    read_end, write_end = os.pipe()
    try:
        claimed = 900 << 20
        os.write(write_end, protocol.FRAME.pack(claimed))   # the JSON part's length; nothing follows
        tracemalloc.start()
        with pytest.raises(protocol.ReplyOverBudget, match="JSON part is 943,718,400 bytes"):
            protocol.read_body(read_end, claimed + 64)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 1 << 20
    finally:
        os.close(read_end)
        os.close(write_end)


def test_read_body_decodes_what_encode_wrote():
    read_end, write_end = os.pipe()
    try:
        payload = protocol.encode({"ok": [1, "two", np.arange(3)]})
        os.write(write_end, payload)
        value = protocol.read_body(read_end, len(payload))
        assert value["ok"][:2] == [1, "two"] and value["ok"][2].tolist() == [0, 1, 2]
    finally:
        os.close(read_end)
        os.close(write_end)
