"""A worker runs at most ROUTE_THREADS requests at once (flixrec.api.app), in process over the small home."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from flixrec.api import create_app
from flixrec.api.app import ROUTE_THREADS
from small_catalogue import SMALL_TITLES


def test_a_worker_runs_at_most_route_threads_requests_at_once(small_app, monkeypatch):
    running = most = 0
    lock = threading.Lock()
    read_title = small_app.get_title

    def slow_read(*args, **kwargs):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.05)  # long enough for every request sent at once to be waiting
            return read_title(*args, **kwargs)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(small_app, "get_title", slow_read)
    ids = [t.title_id for t in SMALL_TITLES[:8]]
    with TestClient(create_app(service=small_app, response_cache_mib=0)) as client, ThreadPoolExecutor(len(ids)) as pool:
        answers = list(pool.map(lambda title_id: client.get(f"/v1/titles/{title_id}"), ids))
    assert [a.status_code for a in answers] == [200] * len(ids)
    assert [a.json()["title_id"] for a in answers] == ids
    assert most == ROUTE_THREADS
