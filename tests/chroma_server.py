"""A throwaway Chroma server for tests: `chroma run` on 127.0.0.1 with its data in a temp dir, stopped after."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def chroma_binary() -> str | None:
    """The `chroma` CLI of this venv (installed with chromadb)."""
    beside = Path(sys.executable).with_name("chroma")
    return str(beside) if beside.exists() else shutil.which("chroma")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ChromaProcess:
    """One `chroma run` process that can be killed and started again on the same port and data."""

    def __init__(self, path: Path, port: int):
        self.path, self.port = path, port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        """Start the server and wait until it answers its heartbeat."""
        log = open(self.path.parent / "chroma.log", "ab")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen([chroma_binary(), "run", "--path", str(self.path), "--host", "127.0.0.1",
                                         "--port", str(self.port)], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self.process.returncode}; see {log.name}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=2):
                    return
            time.sleep(0.2)
        raise RuntimeError(f"chroma run did not answer on {self.url} within {timeout}s")

    def kill(self) -> None:
        """SIGKILL the server (what a crash does) and wait for it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@contextlib.contextmanager
def running_chroma() -> Iterator[ChromaProcess]:
    """Start a Chroma server in a temp dir and yield it (its `url`); killed and removed after."""
    root = Path(tempfile.mkdtemp(prefix="flixrec-chroma-"))
    server = ChromaProcess(root / "data", _free_port())
    try:
        server.start()
        yield server
    finally:
        server.kill()
        shutil.rmtree(root, ignore_errors=True)
