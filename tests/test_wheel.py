"""The built wheel carries templates/ and migrations/ and works in a fresh virtualenv."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

from tests.venvs import fresh_venv, pip

ROOT = Path(__file__).resolve().parent.parent

CHECK = textwrap.dedent(
    """
    import sys, portal, portal.paths
    from portal import create_app
    from portal.migrate import upgrade
    assert "site-packages" in portal.__file__, portal.__file__
    assert str(portal.paths.TEMPLATES_DIR).startswith(str(portal.paths.PACKAGE_DIR)), portal.paths.TEMPLATES_DIR
    url = "sqlite:///" + sys.argv[1]
    upgrade(url)
    app = create_app({"SECRET_KEY": "k" * 32, "PORTAL_DATABASE_URI": url})
    resp = app.test_client().get("/portal/auth/login")
    assert resp.status_code == 200 and b"Sign in" in resp.data, resp.status_code
    css = app.test_client().get("/portal/static/portal.css")
    assert css.status_code == 200
    print("WHEEL-OK")
    """
)


def test_wheel_contains_templates_and_migrations_and_installs(tmp_path):
    out = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
                   check=True, capture_output=True, text=True)
    [wheel] = list(out.glob("*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "portal/templates/portal/layout.html" in names
    assert "portal/migrations/env.py" in names
    assert any(n.startswith("portal/migrations/versions/0001_") for n in names)
    assert "portal/static/portal.css" in names
    assert not any(n.startswith("tests/") for n in names)
    # `make test` compiles the checkout first (compileall): the wheel still carries sources only.
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)

    # A fresh virtualenv with the wheel alone installed in it. Its dependencies are not downloaded
    # again: the test environment's site-packages is added after the virtualenv's own (a plain path
    # in a .pth file, so that environment's editable checkout of the portal stays out of reach),
    # and `pip check` confirms the wheel's declared requirements are met by what is there.
    venv = tmp_path / "venv"
    python = fresh_venv(venv)
    install = pip(python, "install", "-q", "--no-deps", str(wheel))
    assert install.returncode == 0, install.stderr[-2000:]
    [own] = list((venv / "lib").glob("python*/site-packages"))
    deps = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (own / "test-dependencies.pth").write_text("\n".join(deps) + "\n")
    check = pip(python, "check")
    assert check.returncode == 0, check.stdout[-2000:]
    run = subprocess.run([str(python), "-c", CHECK, str(tmp_path / "w.sqlite")],
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "WHEEL-OK" in run.stdout
