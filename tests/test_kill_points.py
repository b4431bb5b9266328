"""Issue 16, defects 1 and 3: `python -m ingest embed` SIGKILLed at each phase of a build (the
FLIXREC_TEST_KILL_AT hook) leaves no worker process behind, `check` tells the truth, and one `embed`
repairs everything (check agrees, the published snapshot holds Chroma's current vectors).

Real subprocesses of the CLI over a real SQLite catalogue and Chroma directory, the real USE model.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from flixrec.catalog import Catalog
from flixrec.models import Title
from ingest.embed import KILL_AT_ENV, KILL_POINTS

from conftest import SHARED_DOWNLOADS
from small_catalogue import SMALL_TITLES

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
GENRES = ("Drama", "Comedy", "Thriller", "Science Fiction", "Romance", "Horror")
WORDS = ("harbour", "detective", "orchard", "comet", "violin", "glacier", "circus", "lighthouse", "desert", "river")


def _generated(n: int) -> list[Title]:
    """Distinct, plausible titles (enough that a build's batches go through the worker processes)."""
    return [Title(title_id=f"gen-{i:04d}", media_type="movie" if i % 3 else "show", source="gen",
                  title=f"The {WORDS[i % 10].title()} of {WORDS[(i // 10) % 10].title()} {i}",
                  overview=f"A story about a {WORDS[i % 10]} and a {WORDS[(i * 7) % 10]}, chapter {i}.",
                  genres=(GENRES[i % 6], GENRES[(i // 6) % 6]), year=1950 + i % 70, language="en")
            for i in range(n)]


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLIXREC_", "TRAKT_"))}
    env.update(FLIXREC_HOME=str(home), FLIXREC_DOWNLOADS=str(SHARED_DOWNLOADS), FLIXREC_MODEL="use-multilingual",
               OPENBLAS_NUM_THREADS="1", ANONYMIZED_TELEMETRY="False", HF_HUB_OFFLINE="1",
               PYTHONPATH=str(REPO), **extra)
    return env


def _ingest(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ingest", "-q", *args], cwd=REPO, env=_env(home, **env),
                          capture_output=True, text=True, timeout=600)


def _processes_with(marker: str) -> list[int]:
    """Live (not zombie) processes whose environment holds the marker: the run and its workers."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() not in (entry / "environ").read_bytes():
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def built_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose catalogue (small + generated titles) is embedded and published by the CLI."""
    home = tmp_path_factory.mktemp("kill-base")
    catalog = Catalog.open(f"sqlite:///{home / 'flixrec.sqlite3'}")
    catalog.upsert_titles([*SMALL_TITLES, *_generated(240)])
    catalog.engine.dispose()
    result = _ingest(home, "embed", "--workers", "1")
    assert result.returncode == 0, result.stderr
    return home


def _change_catalogue(home: Path) -> set[str]:
    """New overviews for 150 titles, 3 new titles, 2 deleted; returns the ids whose vectors must change."""
    catalog = Catalog.open(f"sqlite:///{home / 'flixrec.sqlite3'}")
    changed = [dataclasses.replace(t, overview=f"Rewritten: a {WORDS[n % 10]} adrift in the year {n}.")
               for n, t in enumerate(_generated(150))]
    added = [dataclasses.replace(t, title_id=f"new-{t.title_id}") for t in _generated(3)]
    catalog.upsert_titles([*changed, *added])
    catalog.delete_titles(["gen-0200", "gen-0201"])
    catalog.engine.dispose()
    return {t.title_id for t in (*changed, *added)}


def _snapshot_matches_chroma(home: Path) -> None:
    """The published snapshot holds exactly Chroma's ids and vectors (no stale or deleted title)."""
    code = (
        "import numpy as np\n"
        "from flixrec.config import Settings\n"
        "from flixrec.index import VectorIndex, read_snapshot\n"
        "s = Settings.from_env()\n"
        "index = VectorIndex.open(s.index_dir, s.model)\n"
        "snap = read_snapshot(index, index.stamp(), verify=True)\n"
        "assert snap is not None, 'no valid snapshot'\n"
        "got = index.collection.get(include=['embeddings'], limit=100000)\n"
        "assert sorted(got['ids']) == sorted(snap.ids), 'ids differ'\n"
        "for i, v in zip(got['ids'], got['embeddings']):\n"
        "    assert np.allclose(snap.vector(i), v, atol=1e-5), i\n"
        "print('ok', len(snap))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_env(home), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and result.stdout.startswith("ok"), result.stderr[-2000:]


@pytest.mark.parametrize("phase", KILL_POINTS)
def test_a_build_killed_at_each_phase_is_noticed_and_one_embed_repairs_it(built_home, tmp_path, phase):
    home = tmp_path / "home"
    shutil.copytree(built_home, home)
    _change_catalogue(home)
    marker = f"FLIXREC_TEST_RUN={uuid.uuid4().hex}"
    killed = _ingest(home, "embed", "--workers", "2", "--batch-size", "128", **{KILL_AT_ENV: phase},
                     FLIXREC_TEST_RUN=marker.split("=", 1)[1])
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])

    deadline = time.monotonic() + 10
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_with(marker) == [], "worker processes outlived the SIGKILLed build"

    check = _ingest(home, "check")
    if phase == "after-publish":  # the new build was published: the truth is that they agree
        assert check.returncode == 0, check.stdout
    else:
        assert check.returncode == 1 and "agree:     no" in check.stdout, (check.returncode, check.stdout)

    repaired = _ingest(home, "embed", "--workers", "1")
    assert repaired.returncode == 0, repaired.stderr[-2000:]
    after = _ingest(home, "check")
    assert after.returncode == 0 and "agree:     yes" in after.stdout, after.stdout
    _snapshot_matches_chroma(home)
    snapshots = list((home / "chroma" / "snapshots").iterdir())
    assert len(snapshots) == 1, snapshots  # the interrupted build's and older snapshots are gone


def test_workers_die_when_the_embed_process_is_sigkilled_from_outside(built_home, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(built_home, home)
    catalog = Catalog.open(f"sqlite:///{home / 'flixrec.sqlite3'}")
    catalog.upsert_titles([dataclasses.replace(t, overview=f"{t.overview} Again, {n}.")
                           for n, t in enumerate(_generated(240))])
    catalog.engine.dispose()
    run_id = uuid.uuid4().hex
    process = subprocess.Popen([sys.executable, "-m", "ingest", "-q", "embed", "--workers", "2", "--batch-size", "64"],
                               cwd=REPO, env=_env(home, FLIXREC_TEST_RUN=run_id), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(_processes_with(run_id)) < 3 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)  # the parent, its workers (and Python's resource tracker)
        assert process.poll() is None and len(_processes_with(run_id)) >= 3, "the workers never started"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    deadline = time.monotonic() + 10
    while _processes_with(run_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_with(run_id) == []
