"""What to do when a real dependency is missing: skip on a laptop, fail under CI=true."""
from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and a real dependency is missing: {reason}", pytrace=False)
    pytest.skip(reason)
