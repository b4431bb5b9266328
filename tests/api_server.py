"""A real `python -m flixrec serve` (uvicorn) on 127.0.0.1 for tests, over a given home, stopped after."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx

from flixrec.config import Settings

ROOT = Path(__file__).resolve().parents[1]
QUIET_ENV = {"OPENBLAS_NUM_THREADS": "1", "ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1",
             "TOKENIZERS_PARALLELISM": "false"}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def home_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a process using this home (and nothing of the developer's FlixRec settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLIXREC_", "TRAKT_"))}
    env.update(QUIET_ENV)
    env.update({"FLIXREC_HOME": str(settings.home), "FLIXREC_DOWNLOADS": str(settings.downloads_dir),
                "FLIXREC_MODEL": settings.model, "PYTHONPATH": str(ROOT)})
    env.update(extra)
    return env


@contextlib.contextmanager
def running_api(env: Mapping[str, str], log_path: Path, workers: int = 1, timeout: float = 120.0) -> Iterator[str]:
    """Start the API with this environment, wait until /healthz answers, yield its base URL; stop it after."""
    port = free_port()
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "flixrec", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers)],
            cwd=log_path.parent, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the API exited with {process.returncode}: {log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start in {timeout:.0f} s: {log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
