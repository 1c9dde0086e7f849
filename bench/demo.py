"""How long `flask portal demo` takes to make the school a month into term. Prints; asserts nothing.

The floor is the bare demo (people, classes and the default policies: ``--bare``), made in the
same process just before. Reported: wall and CPU seconds of each, the month's own cost (lived-in
minus bare), and the load average, since this machine's cores are shared.

    .venv/bin/python bench/demo.py [--runs 2]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def one(lived_in: bool) -> tuple[float, float]:
    from portal.app import create_app
    from portal.demo import load_demo
    from portal.migrate import upgrade

    root = Path(tempfile.mkdtemp(prefix="countersign-bench-demo-"))
    url = f"sqlite:///{root}/portal.db"
    upgrade(url)
    app = create_app({"SECRET_KEY": "bench", "PORTAL_DATABASE_URI": url, "PORTAL_ARCHIVE_DIR": str(root / "a"),
                      "PORTAL_UPLOAD_DIR": str(root / "u"), "PORTAL_KEYS_DIR": str(root / "k"),
                      "PORTAL_MAIL_BACKEND": "log"})
    with app.app_context():
        cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        load_demo(lived_in=lived_in)
        wall = time.perf_counter() - wall0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    app.extensions["portal"].engine.dispose()
    return wall, (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    bare, lived = [], []
    for _ in range(args.runs):  # interleaved, so both see the same load
        bare.append(one(False))
        lived.append(one(True))
    med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"bare demo (floor):  wall {med(bare, 0):6.1f} s   cpu {med(bare, 1):6.1f} s   (n={args.runs})")
    print(f"lived-in demo:      wall {med(lived, 0):6.1f} s   cpu {med(lived, 1):6.1f} s   (n={args.runs})")
    print(f"the month itself:   wall {med(lived, 0) - med(bare, 0):6.1f} s   "
          f"ratio lived-in / bare (wall) {med(lived, 0) / med(bare, 0):.1f}")


if __name__ == "__main__":
    main()
