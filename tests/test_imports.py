"""The portal's modules import one way: no module reaches back to the one that imported it.

Deferred imports inside functions count too: they only hide a circle until the day someone
moves them to the top of the file.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "portal"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Every ``portal`` module and the ``portal`` modules it imports anywhere in its body."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    found.add(sub if sub in files else base)
        graph[name] = {m for m in found if m in files and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The groups of modules that import each other (strongly connected components of two or more)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [{"a", "b", "c"}]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_app_extension_and_cli_import_one_way():
    graph = import_graph()
    assert "portal.cli" in graph["portal.extension"], "the extension registers the CLI group"
    assert "portal.extension" in graph["portal.app"]
    entangled = [sorted(g) for g in cycles(graph) if g & {"portal.app", "portal.extension", "portal.cli"}]
    assert entangled == []


def _portal_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a portal process started by a test: its own SQLite file and instance folder."""
    return {**os.environ, "PORTAL_DATABASE_URI": f"sqlite:///{tmp_path / 'c.sqlite'}",
            "PORTAL_INSTANCE_DIR": str(tmp_path / "instance"), "SECRET_KEY": "k" * 32}


def test_the_console_script_runs_the_portal_commands(tmp_path):
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["countersign"] == "portal.console:main"
    env = _portal_env(tmp_path)
    run = subprocess.run([sys.executable, "-c", "from portal.console import main; main()", "portal", "--help"],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "schools" in run.stdout and "demo" in run.stdout


def test_starting_the_app_leaves_pdf_making_and_sealing_unloaded(tmp_path):
    """A web process or CLI command that never seals does not pay for importing WeasyPrint (its Pango
    bindings) or pyHanko's signers: they load when a process first makes or seals a record."""
    env = _portal_env(tmp_path)
    code = ("import sys; import wsgi; import portal.records.operations, portal.records.keys; "
            "print(' '.join(m for m in ('weasyprint', 'pyhanko.sign.signers') if m in sys.modules) or 'none')")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split()[-1:] == ["none"], run.stdout
    # The same check sees them once something does seal.
    code = code.replace("import wsgi;", "import wsgi; import portal.records.pdf, portal.records.seal;")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split()[-2:] == ["weasyprint", "pyhanko.sign.signers"], run.stdout
