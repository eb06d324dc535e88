"""``thinbridge serve`` in a child process, for the tests and the load benchmark.

:class:`ServerProcess` starts ``python -m thinbridge.cli serve RUN --port PORT`` on 127.0.0.1
(a free port) in its own process group, with ``PYTHONPATH`` at the tree being tested, waits
until ``/api/health`` answers, and stops the whole group on exit (SIGTERM, then SIGKILL),
whatever happened in between: use it as a context manager. Its output goes to a log file.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 30) -> tuple[int, str, bytes]:
    """``(status, content type, body)`` of a GET; an HTTP error status is returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def get_json(url: str, timeout: float = 30) -> tuple[int, dict | list]:
    status, _, body = get(url, timeout)
    return status, json.loads(body)


class ServerProcess:
    """A ``thinbridge serve`` child on ``127.0.0.1:port``; ``base`` is its URL (with a final ``/``)."""

    def __init__(self, run, log: Path, *args: str, port: int | None = None, start_timeout: float = 120,
                 python: str = sys.executable, tree: Path = ROOT):
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}/"
        self.log_path = Path(log)
        self.cmd = [python, "-m", "thinbridge.cli", "serve", str(run), "--host", "127.0.0.1",
                    "--port", str(self.port), "-q", *args]
        self.env = dict(os.environ, PYTHONPATH=str(tree), THINBRIDGE_PROGRESS="0")
        self.tree, self.start_timeout = tree, start_timeout
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None

    def __enter__(self) -> "ServerProcess":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.cmd, cwd=self.tree, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}):\n{self.log()}")
            try:
                if get(self.base + "api/health", timeout=5)[0] == 200:
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"no answer in {self.start_timeout} s:\n{self.log()}")
            time.sleep(0.2)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def signal(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Send ``sig`` to the server's process group and wait for it to exit; its exit status."""
        os.killpg(self.proc.pid, sig)
        self.returncode = self.proc.wait(timeout=timeout)
        return self.returncode

    def stop(self) -> None:
        """SIGTERM to the process group, then SIGKILL; safe to call twice."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.returncode = self.proc.wait(timeout=10)
