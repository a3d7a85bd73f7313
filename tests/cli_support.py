"""Running `python -m toxdb ...` from tests.

``run_toxdb`` calls the command line's own entry point (``toxdb.cli.main``, what ``python -m toxdb``
runs) inside the test process: the arguments, the exit status, what is printed to stdout and stderr
(as UTF-8 text) and the environment variables the commands read are the same as in a child process,
without paying for a new interpreter and its imports (about 2 CPU seconds a call). The language and
the environment are restored afterwards, so a command cannot leak into the next test.

``run_toxdb_process`` starts the real ``python -m toxdb``: for what only a process shows (the module
entry point, exit status through ``sys.exit``, two processes sharing a database file).
"""
from __future__ import annotations

import contextlib
import contextvars
import io
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class _Output(io.TextIOWrapper):
    """A text stream with a ``.buffer`` of bytes, as sys.stdout has, kept readable after the command."""

    def __init__(self):
        super().__init__(io.BytesIO(), encoding="utf-8", errors="strict", newline="", write_through=True)

    def text(self) -> str:
        self.flush()
        return self.buffer.getvalue().decode("utf-8")


@contextlib.contextmanager
def _environment(overrides: dict[str, str]):
    saved = dict(os.environ)
    os.environ.update(overrides)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_toxdb(*args, user: str | None = None, env: dict[str, str] | None = None,
              cwd: Path | None = None, text: bool = True) -> subprocess.CompletedProcess:
    """``python -m toxdb *args`` in this process; returns what subprocess.run would (returncode,
    stdout, stderr as text, or as bytes with ``text=False``)."""
    from toxdb.cli import main

    argv = [str(a) for a in args]
    overrides = dict(env or {})
    if user is not None:
        overrides["TOXDB_USER"] = user
    out, err = _Output(), _Output()

    def call() -> int:
        try:
            return main(argv)
        except SystemExit as exc:           # argparse refusing the arguments, as python -m would exit
            code = exc.code
            return code if isinstance(code, int) else (0 if code is None else 1)

    here = os.getcwd()
    with _environment(overrides), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        if cwd is not None:
            os.chdir(cwd)
        try:
            code = contextvars.copy_context().run(call)     # the language a command sets stays its own
        finally:
            os.chdir(here)
    if text:
        return subprocess.CompletedProcess(["python", "-m", "toxdb", *argv], code, out.text(), err.text())
    return subprocess.CompletedProcess(["python", "-m", "toxdb", *argv], code, out.text().encode("utf-8"),
                                       err.text().encode("utf-8"))


def run_toxdb_process(*args, user: str | None = None, env: dict[str, str] | None = None,
                      cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real ``python -m toxdb *args`` in a child process."""
    full_env = {**os.environ, **(env or {})}
    if user is not None:
        full_env["TOXDB_USER"] = user
    return subprocess.run([sys.executable, "-m", "toxdb", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=full_env)
