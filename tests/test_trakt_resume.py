"""A real `python -m ingest trakt` process killed with SIGKILL mid-crawl resumes to exactly the fake's catalogue."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_trakt import FakeTrakt

from flixrec.catalog import Catalog
from ingest.trakt.crawl import search_plan
from ingest.trakt.mapping import to_title

ROOT = Path(__file__).resolve().parents[1]
KEY = "resume-test-key"
COMMAND = ["-m", "ingest", "-q", "trakt", "search", "--years", "1900-2021", "--step", "10", "--limit", "50",
           "--rate", "0"]


def start_crawl(fake: FakeTrakt, home: Path) -> subprocess.Popen:
    """The CLI as a user runs it, in its own process, against the fake."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLIXREC_", "TRAKT_"))}
    env.update(FLIXREC_HOME=str(home), TRAKT_BASE_URL=fake.url, TRAKT_CLIENT_ID=KEY, OPENBLAS_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, *COMMAND], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_after(fake: FakeTrakt, process: subprocess.Popen, answered: int) -> None:
    """SIGKILL the crawl once the fake has answered this many requests in total (no clean-up can run)."""
    deadline = time.monotonic() + 60
    while sum(1 for *_, status in fake.requests if status == 200) < answered:
        assert process.poll() is None, f"the crawl ended before it could be killed: {process.communicate()}"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_a_crawl_killed_with_sigkill_resumes_with_nothing_lost_or_duplicated(tmp_path):
    with FakeTrakt(movies=1500, shows=400, client_id=KEY, delay=0.015) as fake:
        catalog = Catalog.open(f"sqlite:///{tmp_path / 'flixrec.sqlite3'}")
        counts_at_kill = []
        for answered in (12, 30):  # killed twice: among the movie segments, then later
            kill_after(fake, start_crawl(fake, tmp_path), answered)
            counts_at_kill.append(catalog.count())
            assert catalog.states("trakt:search:"), "a checkpoint is committed with the pages"
        finished = start_crawl(fake, tmp_path)
        out, err = finished.communicate(timeout=120)
        assert finished.returncode == 0, err
        assert "show search 1900-2021:" in out and "complete" in out

        assert 0 < counts_at_kill[0] < counts_at_kill[1] < catalog.count()
        for media in ("movie", "show"):
            expected = {t.title_id: t for t in (to_title(r, media) for r in fake.catalogue(media))
                        if t.year is not None and 1900 <= t.year <= 2021}
            got = {t.title_id: t for t in catalog.iter_titles() if t.media_type == media}
            assert got == expected  # every field of every title, nothing missing, nothing extra
            state = catalog.get_state(search_plan(media, (1900, 2021), step=10).key)
            assert state["done"] and state["failed"] == []
        assert catalog.count() == len({t.title_id for t in catalog.iter_titles()})

        # Resuming means resuming: at most the page in flight at each kill is fetched twice.
        log = zip(fake.requests, fake.queries, strict=True)
        served = collections.Counter((p, q.get("years"), n) for (_, p, n, status), q in log if status == 200)
        assert sum(n - 1 for n in served.values()) <= 2
        catalog.engine.dispose()
