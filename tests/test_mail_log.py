"""The log mail backend (``make run``): each message leaves one line, recipient count and subject only, in
the terminal of the web server and in the job worker's log. Run in a fresh interpreter, as ``flask run`` and
the worker are, because the test process has logging set up already."""
from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import logging, sys
from portal.app import create_app
from portal.mail import send_mail
app = create_app()
if sys.argv[1] == "worker":  # the worker sets up logging itself (portal/jobs/cli.py)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
with app.app_context():
    send_mail(["a@fictional.example", "b@fictional.example"], "Your reset link", "the body: not logged")
"""


def _run(tmp_path, mode: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(PORTAL_INSTANCE_DIR=str(tmp_path), PORTAL_DATABASE_URI=f"sqlite:///{tmp_path}/portal.db",
               PORTAL_MAIL_BACKEND="log")
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    return done.stderr


def test_the_web_server_prints_one_line_per_message(tmp_path):
    err = _run(tmp_path, "web")
    assert err.count("portal.mail: mail to 2 recipient(s): Your reset link") == 1, err
    assert "the body" not in err and "fictional.example" not in err


def test_the_worker_logs_it_once(tmp_path):
    """A guard, not a finding: with the worker's own logging set up, the standalone app's handler stays quiet, so
    the line is not written twice (it passes without the handler too)."""
    err = _run(tmp_path, "worker")
    assert err.count("mail to 2 recipient(s): Your reset link") == 1, err
