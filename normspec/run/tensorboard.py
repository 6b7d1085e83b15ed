"""TensorBoard event files, written without TensorFlow or TensorBoard installed.

An event file is a sequence of TFRecord records (length, its masked CRC-32C, the data, its
masked CRC-32C), each holding one ``Event`` protocol buffer: first the file version, then
events with a step and a ``Summary`` of tagged values, scalars or histograms. The few fields
used are encoded here by hand (``tensorflow/core/util/event.proto``, ``summary.proto``).
"""

from __future__ import annotations

import math
import socket
import struct
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from normspec.run.diagnostics import Diagnostics
from normspec.run.train import History


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked(data: bytes) -> bytes:
    crc = crc32c(data)
    return struct.pack("<I", (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def record(data: bytes) -> bytes:
    """One TFRecord: length, masked CRC of the length, data, masked CRC of the data."""
    length = struct.pack("<Q", len(data))
    return length + _masked(length) + data + _masked(data)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _bytes(number: int, data: bytes) -> bytes:
    return _field(number, 2) + _varint(len(data)) + data


def _double(number: int, value: float) -> bytes:
    return _field(number, 1) + struct.pack("<d", value)


def _float(number: int, value: float) -> bytes:
    return _field(number, 5) + struct.pack("<f", value)


def _packed_doubles(number: int, values: Iterable[float]) -> bytes:
    return _bytes(number, b"".join(struct.pack("<d", v) for v in values))


def _event(step: int, wall_time: float, summary: bytes = b"", version: str = "") -> bytes:
    out = _double(1, wall_time) + _field(2, 0) + _varint(step)
    if version:
        out += _bytes(3, version.encode())
    return out + (_bytes(5, summary) if summary else b"")


def scalar_value(tag: str, value: float) -> bytes:
    """A ``Summary.Value`` holding a scalar."""
    return _bytes(1, _bytes(1, tag.encode()) + _float(2, value))


def histogram_value(tag: str, values: np.ndarray, bins: int = 30) -> bytes:
    """A ``Summary.Value`` holding a histogram of the finite ``values``."""
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if not len(x):
        x = np.zeros(1)
    counts, edges = np.histogram(x, bins=bins)
    histo = (
        _double(1, float(x.min())) + _double(2, float(x.max())) + _double(3, float(len(x)))
        + _double(4, float(x.sum())) + _double(5, float(np.square(x).sum()))
        + _packed_doubles(6, edges[1:]) + _packed_doubles(7, counts.astype(np.float64))
    )  # fmt: skip
    return _bytes(1, _bytes(1, tag.encode()) + _bytes(5, histo))


class EventWriter:
    """Appends events to a new event file in ``folder`` (TensorBoard reads every file there)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        now = time.time()
        name = f"events.out.tfevents.{int(now)}.{socket.gethostname()}.normspec"
        self.path = folder / name
        self._file = open(self.path, "wb")  # noqa: SIM115 (closed by close())
        self._file.write(record(_event(0, now, version="brain.Event:2")))

    def write(self, step: int, values: Iterable[bytes]) -> None:
        summary = b"".join(values)
        if summary:
            self._file.write(record(_event(step, time.time(), summary)))

    def close(self) -> None:
        self._file.close()


def write_run(folder: Path, history: History, diagnostics: Diagnostics | None = None) -> Path:
    """One run's event file: every epoch's metrics as scalars (step = epoch), and with
    diagnostics every statistic as ``<op>/<stat>`` (step = optimizer step) and histograms of
    the shown ops' outputs at the first and last diagnostic step."""
    writer = EventWriter(folder)
    try:
        for row in history.epochs:
            values = [scalar_value(f"epoch/{key}", v) for key, v in row.items()
                      if key != "epoch" and math.isfinite(v)]  # fmt: skip
            writer.write(int(row["epoch"]), values)
        if diagnostics is not None:
            _write_diagnostics(writer, diagnostics)
    finally:
        writer.close()
    return writer.path


def _write_diagnostics(writer: EventWriter, diagnostics: Diagnostics) -> None:
    by_step: dict[int, list[bytes]] = {}
    for step, op, stat, value in diagnostics.rows:
        if math.isfinite(value):
            by_step.setdefault(step, []).append(scalar_value(f"{op}/{stat}", value))
    for step, values in sorted(by_step.items()):
        writer.write(step, values)
    ends: Mapping[int, dict[str, np.ndarray]] = {
        diagnostics.steps[0]: diagnostics.first, diagnostics.steps[-1]: diagnostics.last
    } if diagnostics.steps else {}  # fmt: skip
    for step, samples in ends.items():
        writer.write(step, [histogram_value(f"{op}/output", v) for op, v in samples.items()])
