"""Progress for long work: operations take ``progress(label, total)`` and update what it returns.

The command line passes :func:`click_bar` (a click progress bar on a terminal); everything else
gets :func:`no_progress`, which shows nothing. Operations never print.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

#: ``progress(label, total)`` -> a context manager whose value has ``update(n)``.
Progress = Callable[[str, int], Any]


class _Quiet:
    def update(self, n: int) -> None:
        return None


def no_progress(label: str, total: int) -> Any:
    return nullcontext(_Quiet())


def click_bar(label: str, total: int) -> Any:
    """A click progress bar (drawn on a terminal, quiet when the output is not one)."""
    import click

    return click.progressbar(length=max(total, 1), label=label, file=None)
