"""A fresh virtualenv for an install test, without a pip of its own.

``python -m venv`` spends about 4 s of CPU installing pip into each new environment (ensurepip). The
environment is made with ``--without-pip`` instead, and the test environment's pip installs into it
and reads it through ``pip --python`` (pip 22.3 and later): what ends up installed is the same.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def fresh_venv(path: Path) -> Path:
    """Make an empty virtualenv at *path*; return its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path / "bin" / "python"


def pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run pip for the environment of *python* (not checked: the caller reads the return code)."""
    return subprocess.run([sys.executable, "-m", "pip", "--python", str(python), *args],
                          capture_output=True, text=True)
