"""Serve the API with uvicorn: `python -m flixrec serve [--host 127.0.0.1] [--port 8000] [--workers N]`."""

from __future__ import annotations

import uvicorn

from flixrec.config import SECRETS_FILE, Settings

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000
KEEP_ALIVE_S = 30
"""Idle seconds before a kept-alive connection is closed. uvicorn's 5 s reset clients' next requests under
overload: a starved event loop runs the expired timer before reading the request already waiting."""


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, workers: int = 1, log_level: str = "info") -> None:
    """Run the API until interrupted; settings are validated first so a bad one is an error, not a crashing worker.

    Workers are separate processes building the app from the environment (uvicorn's factory mode).
    """
    Settings.from_env(secrets_file=SECRETS_FILE)  # ConfigError names the setting to fix
    uvicorn.run("flixrec.api:create_app", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, proxy_headers=False, server_header=False, timeout_keep_alive=KEEP_ALIVE_S)
