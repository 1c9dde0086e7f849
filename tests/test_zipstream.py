"""The streaming ZIP writer (portal/records/zipstream.py) past the classic ZIP limits.

More than 65,535 entries need the ZIP64 end records; Python's zipfile and Info-ZIP's ``zip -T``
must both read the result. (Offsets past 4 GiB take the same ZIP64 path in the central directory;
writing 4 GiB in a test is too slow for the shared machine.)
"""
from __future__ import annotations

import shutil
import struct
import subprocess
import zipfile

import pytest

from portal.records.zipstream import StreamingZip


def _write(path, entries):
    z = StreamingZip()
    try:
        with path.open("wb") as fh:
            for name, chunks in entries:
                for chunk in z.entry(name, chunks):
                    fh.write(chunk)
            for chunk in z.finish():
                fh.write(chunk)
    finally:
        z.close()


def test_more_than_65535_entries_get_zip64_end_records(tmp_path):
    n = 0xFFFF + 2
    out = tmp_path / "many.zip"
    _write(out, ((f"r/{i}.txt", [str(i).encode()]) for i in range(n)))
    data = out.read_bytes()
    assert data.rfind(b"PK\x06\x06") > 0 and data.rfind(b"PK\x06\x07") > 0, "ZIP64 end record and locator"
    eocd = data[data.rfind(b"PK\x05\x06"):]
    assert struct.unpack("<HH", eocd[8:12]) == (0xFFFF, 0xFFFF), "the classic record defers to ZIP64"
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert len(names) == n and names[-1] == f"r/{n - 1}.txt"
        assert zf.read("r/65536.txt") == b"65536" and zf.read("r/0.txt") == b"0"
    if shutil.which("zip"):
        check = subprocess.run(["zip", "-T", str(out)], capture_output=True, check=False, text=True)
        assert check.returncode == 0 and "OK" in check.stdout, check.stdout + check.stderr


def test_a_small_zip_has_no_zip64_records(tmp_path):
    out = tmp_path / "few.zip"
    _write(out, [("a.txt", [b"alpha", b"", b"beta"]), ("b/c.bin", [])])
    data = out.read_bytes()
    assert b"PK\x06\x06" not in data
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
        assert zf.read("a.txt") == b"alphabeta" and zf.read("b/c.bin") == b""
        assert zf.getinfo("a.txt").compress_type == zipfile.ZIP_STORED


def test_the_spooled_central_directory_is_dropped_when_the_writer_is_closed():
    z = StreamingZip()
    list(z.entry("x", [b"1"]))
    z.close()
    z.close()  # twice is fine
    with pytest.raises(ValueError):
        list(z.finish())
