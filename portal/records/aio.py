"""Run pyHanko's coroutines from synchronous code.

pyHanko's sync helpers call ``asyncio.run``, which fails when the calling thread already runs
an event loop (an async host server; Playwright in the browser tests). :func:`run` works in
both cases: directly when no loop runs, else in a short-lived worker thread.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run(make_coro: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine made by *make_coro* to completion and return its result."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coro())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make_coro())).result()
