"""A ZIP writer that streams in constant memory.

Entries are stored (not compressed: PDFs are compressed already) with a data descriptor
after each file's bytes, so nothing needs to be seeked back to. The central directory is
spooled to a temporary file rather than kept in memory, and ZIP64 records are written when
offsets or the number of entries need them.

Kept rather than replaced by a library (issue 20, measured with ``bench/records.py`` on 10,000 records):
``zipstream-ng`` (whose ``add`` + ``all_files`` fit this interface exactly) made the export about a quarter
slower and keeps one ``ZipInfo`` per entry in memory for the central directory (Python peak 2.1 MiB with
this writer at 1,000 and at 10,000 records; 2.3 and 7-11 MiB with the library), so memory grows with the
number of records. ``stream-zip`` also keeps the central directory in memory and, for stored entries,
either buffers each whole file or needs its CRC-32 before the first byte.
"""
from __future__ import annotations

import datetime as dt
import struct
import tempfile
import zlib
from collections.abc import Iterable, Iterator

_FLAGS = 0x0008 | 0x0800  # data descriptor follows; names are UTF-8
_U32 = 0xFFFFFFFF


def _dos_time(when: dt.datetime) -> tuple[int, int]:
    when = max(when, dt.datetime(1980, 1, 1, tzinfo=when.tzinfo))
    return (when.hour << 11) | (when.minute << 5) | (when.second // 2), \
        ((when.year - 1980) << 9) | (when.month << 5) | when.day


class StreamingZip:
    """``for chunk in z.entry(name, chunks): ...`` for each file, then ``z.finish()``."""

    def __init__(self, when: dt.datetime | None = None) -> None:
        self._offset = 0
        self._count = 0
        self._central = tempfile.TemporaryFile()  # noqa: SIM115 - closed by finish() or close()
        self._time, self._date = _dos_time(when or dt.datetime.now(dt.UTC))

    def close(self) -> None:
        """Drop the spooled central directory (safe to call twice)."""
        self._central.close()

    def _out(self, data: bytes) -> bytes:
        self._offset += len(data)
        return data

    def entry(self, name: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        raw = name.encode("utf-8")
        start = self._offset
        yield self._out(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, _FLAGS, 0, self._time, self._date,
                                    0, 0, 0, len(raw), 0) + raw)
        crc = size = 0
        for chunk in chunks:
            if chunk:
                crc = zlib.crc32(chunk, crc)
                size += len(chunk)
                yield self._out(chunk)
        if size >= _U32:
            raise ValueError(f"{name}: a single file of 4 GiB or more is not supported")
        yield self._out(struct.pack("<IIII", 0x08074B50, crc, size, size))
        extra = b""
        offset_field, needed = start, 20
        if start >= _U32:
            extra = struct.pack("<HHQ", 0x0001, 8, start)
            offset_field, needed = _U32, 45
        self._central.write(struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | 45, needed, _FLAGS, 0, self._time, self._date,
            crc, size, size, len(raw), len(extra), 0, 0, 0, (0o100644 << 16), offset_field) + raw + extra)
        self._count += 1

    def file(self, name: str, data: bytes) -> Iterator[bytes]:
        return self.entry(name, [data])

    def finish(self) -> Iterator[bytes]:
        cd_start = self._offset
        cd_size = self._central.tell()
        self._central.seek(0)
        while block := self._central.read(64 * 1024):
            yield self._out(block)
        self._central.close()
        if self._count >= 0xFFFF or cd_start >= _U32 or cd_size >= _U32:
            eocd64_at = self._offset
            yield self._out(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, (3 << 8) | 45, 45, 0, 0,
                                        self._count, self._count, cd_size, cd_start))
            yield self._out(struct.pack("<IIQI", 0x07064B50, 0, eocd64_at, 1))
            yield self._out(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, _U32, _U32, 0))
        else:
            yield self._out(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, self._count, self._count,
                                        cd_size, cd_start, 0))
