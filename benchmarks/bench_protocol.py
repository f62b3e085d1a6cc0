"""Peak memory of decoding a worker's reply: the budgeted decoder against plain ``json.loads``.

    python benchmarks/bench_protocol.py

The baseline is what decoding cost before the budget: the JSON header parsed whole, then
converted (``json.loads`` plus one copy of the result), and an array read through ``BytesIO``.
"""

from __future__ import annotations

import io
import json
import tracemalloc

import numpy as np

from autograder.worker import protocol


def frame(header: bytes, blobs=()) -> bytearray:
    parts = [len(header).to_bytes(8, "little"), header, len(blobs).to_bytes(8, "little")]
    for blob in blobs:
        parts += [len(blob).to_bytes(8, "little"), blob]
    return bytearray(b"".join(parts))


def peak(function) -> tuple[int, str]:
    tracemalloc.start()
    try:
        function()
        outcome = "decoded"
    except protocol.ProtocolError as exc:
        outcome = f"refused ({str(exc)[:60]}...)"
    finally:
        used = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return used, outcome


def baseline_json(message: bytearray):
    n = int.from_bytes(message[:8], "little")
    value = json.loads(bytes(message[8:8 + n]))
    return [v for v in value["ok"]]  # the old decoder rebuilt every list once more


def baseline_array(message: bytearray):
    start = bytes(message).index(b"\x93NUMPY")
    return np.lib.format.read_array(io.BytesIO(bytes(message[start:])), allow_pickle=False)


def main():
    flood = frame(b'{"ok": [' + b"0," * (15 << 19) + b'0]}')
    array = bytearray(protocol.encode({"ok": np.zeros(10_000_000)}))
    rows = [("15.7 MB JSON list of zeros", flood, baseline_json),
            ("80 MB float64 array", array, baseline_array)]
    print(f"{'reply':<30} {'size':>9} {'json.loads/BytesIO':>20} {'budgeted decode':>16}  outcome")
    for name, message, baseline in rows:
        base, _ = peak(lambda: baseline(message))
        ours, outcome = peak(lambda: protocol.decode(message))
        print(f"{name:<30} {len(message) / 1e6:>7.1f}MB {base / 1e6:>13.1f} MB ({base / len(message):.1f}x) "
              f"{ours / 1e6:>9.1f} MB ({ours / len(message):.2f}x)  {outcome}")


if __name__ == "__main__":
    main()
