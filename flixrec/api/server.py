"""Serve the API with uvicorn: `python -m flixrec serve [--host 127.0.0.1] [--port 8000] [--workers N]`.

One worker: uvicorn runs the app in this process. Several: this process loads the service once (the
snapshot, its search projection, the ranking features, the name search), then forks the workers, which
share all of it copy-on-write instead of each loading a private copy (uvicorn's own --workers starts
fresh interpreters); it restarts a worker that dies and stops them all on SIGINT or SIGTERM. A new build
published later is loaded by each worker for itself.

Each worker listens on a socket of its own on the same address (SO_REUSEPORT), and the kernel spreads new
connections over them by a hash of their addresses. On one shared socket the worker woken first accepted
every connection waiting (asyncio accepts up to the backlog per wake-up), so clients that keep their
connections (browsers, API clients' pools, load generators) piled onto one worker while the other idled:
43, 37 and 38 of 50 connections in three tries (docs/performance.md, "Connections spread over the workers").
"""

from __future__ import annotations

import errno
import gc
import logging
import os
import signal
import socket
import sys
import time
from types import FrameType

import uvicorn

from flixrec.config import SECRETS_FILE, Settings
from flixrec.errors import ConfigError, FlixrecError
from flixrec.service import FlixRec

log = logging.getLogger("flixrec.api")
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000
KEEP_ALIVE_S = 30
"""Idle seconds before a kept-alive connection is closed. uvicorn's 5 s reset clients' next requests under
overload: a starved event loop runs the expired timer before reading the request already waiting."""
STOP_WAIT_S = 30
"""How long stopping waits for the workers to finish their requests before killing them."""
RESTART_PAUSE_S = 1.0
SPREAD_BY_KERNEL = hasattr(socket, "SO_REUSEPORT")
"""Each worker listens on its own socket and the kernel spreads connections (Linux, BSD, macOS); elsewhere the
workers share one socket."""


def _bound_socket(host: str, port: int, shared: bool = True) -> socket.socket:
    """A TCP socket bound to (host, port); `shared`: other sockets of this user may bind it too (SO_REUSEPORT).

    An address that cannot be bound is a ConfigError naming it and the fix: checked before loading anything,
    where uvicorn would find it only after the app has started (minutes at 300k titles)."""
    sock = socket.socket(family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        hint = ("another server may be using that port; stop it or choose another with --port"
                if exc.errno == errno.EADDRINUSE else
                "give --host an address of this machine (127.0.0.1, or 0.0.0.0 for every interface)")
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}): {hint}") from exc
    return sock


def _reserved_address(host: str, port: int) -> socket.socket:
    """The supervisor's socket: bound, never listening (the kernel hands connections only to listening
    sockets), so an address in use fails here once, and port 0 becomes one port every worker then binds."""
    sock = _bound_socket(host, port)
    log.info("serving on http://%s:%d", host, sock.getsockname()[1])
    return sock


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, workers: int = 1, log_level: str = "info") -> None:
    """Run the API until interrupted; settings are validated first so a bad one is an error, not a crashing worker."""
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s")  # beside uvicorn's
    settings = Settings.from_env(secrets_file=SECRETS_FILE)  # ConfigError names the setting to fix
    if workers <= 1:
        _bound_socket(host, port, shared=False).close()  # a port in use: one error line now, not after loading
        uvicorn.run("flixrec.api:create_app", factory=True, host=host, port=port, log_level=log_level,
                    proxy_headers=False, server_header=False, timeout_keep_alive=KEEP_ALIVE_S)
        return
    reserved = _reserved_address(host, port) if SPREAD_BY_KERNEL else None  # before the minutes of loading
    service = FlixRec(settings)
    try:
        service.warm_up()
    except FlixrecError as exc:  # each worker loads the index once it is built
        log.warning("not ready yet: %s", type(exc).__name__)
    service.release_connections()  # each worker opens its own database connections

    from flixrec.api import create_app  # here: `serve` is imported by the CLI, which must not load FastAPI first

    config = uvicorn.Config(create_app(settings, service), host=host, port=port, log_level=log_level, proxy_headers=False,
                            server_header=False, timeout_keep_alive=KEEP_ALIVE_S)
    sock = reserved or config.bind_socket()
    gc.collect()
    gc.freeze()  # the loaded objects stay out of the collector's passes: their pages stay shared
    Supervisor(config, sock, service, workers).run()


class Supervisor:
    """Forks `workers` uvicorn servers on the reserved address (each its own socket) or one shared socket, restarts
    one that dies, stops them on a signal."""

    def __init__(self, config: uvicorn.Config, sock: socket.socket, service: FlixRec, workers: int):
        self.config, self.sock, self.service, self.workers = config, sock, service, workers
        self.children: set[int] = set()
        self.stopping = False

    def run(self) -> None:
        """Start the workers and wait; returns after every worker has stopped."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._stop)
        log.info("starting %d workers (pid %d)", self.workers, os.getpid())
        for _ in range(self.workers):
            self._fork()
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            self.children.discard(pid)
            if not self.stopping:
                log.warning("worker %d exited (status %d); starting another", pid, status)
                time.sleep(RESTART_PAUSE_S)
                self._fork()
        self.sock.close()

    def _fork(self) -> None:
        pid = os.fork()
        if pid:
            self.children.add(pid)
            return
        code = 0
        try:
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, signal.SIG_DFL)  # uvicorn installs its own graceful handlers
            self.service.after_fork()
            sock = _bound_socket(self.config.host, self.sock.getsockname()[1]) if SPREAD_BY_KERNEL else self.sock
            uvicorn.Server(self.config).run(sockets=[sock])
        except BaseException:  # noqa: BLE001  (a worker must never return into the supervisor's loop)
            log.exception("worker %d failed", os.getpid())
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        """Pass the signal on to the workers (uvicorn stops gracefully on it); kill those still running later."""
        if self.stopping:
            return
        self.stopping = True
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                self.children.discard(pid)
        signal.signal(signal.SIGALRM, self._kill)
        signal.alarm(STOP_WAIT_S)

    def _kill(self, _signum: int, _frame: FrameType | None) -> None:
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
