"""Scaling out, against real servers on 127.0.0.1 started here: a `chroma run` process and PostgreSQL.

The small catalogue goes ingest -> embed -> query through them; reader processes switch to a build a
third (ingest) process publishes; a second writer is refused; a Chroma server killed mid-build loses
nothing once restarted. Marked `servers` (and `postgres`); `make test` runs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from small_catalogue import SMALL_TITLES

import ingest.embed
from flixrec.catalog import Catalog
from flixrec.embedding import collection_name
from flixrec.index import IndexLocation, VectorIndex, index_problems
from flixrec.service import FlixRec
from flixrec.writer_lock import writer_lock
from ingest.embed import build_index

pytestmark = [pytest.mark.servers, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def chroma() -> Iterator:
    """A real Chroma server (`chroma run`) for this module."""
    import chroma_server

    if chroma_server.chroma_binary() is None:
        pytest.fail("the chroma CLI is missing: it comes with chromadb (pip install -r requirements.txt)")
    with chroma_server.running_chroma() as server:
        yield server


@pytest.fixture
def database_url(postgres_server: str) -> str:
    """A fresh database on the session's PostgreSQL server."""
    name = f"scale_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return postgres_server.rsplit("/", 1)[0] + f"/{name}"


def _environment(home: Path, chroma_url: str, database_url: str, model: str) -> dict[str, str]:
    """The environment of one replica or ingest host (each its own FLIXREC_HOME: no shared disk)."""
    return {"FLIXREC_HOME": str(home), "FLIXREC_CHROMA_URL": chroma_url, "FLIXREC_DATABASE_URL": database_url,
            "FLIXREC_MODEL": model}


def _settings(tmp_path: Path, name: str, chroma, database_url: str, model: str = "use-multilingual"):
    from conftest import make_settings

    return make_settings(tmp_path / name, model, FLIXREC_CHROMA_URL=chroma.url, FLIXREC_DATABASE_URL=database_url)


def _fresh_collection(chroma, settings) -> None:
    """Drop the model's collection on the server (tests share one server and one model)."""
    client = IndexLocation.from_settings(settings).server.client()
    try:
        client.delete_collection(collection_name(settings.model))
    except Exception:  # noqa: BLE001 - none yet
        pass


def test_the_small_pipeline_runs_end_to_end_on_a_chroma_server_and_postgres(tmp_path, chroma, database_url, use_embedder):
    settings = _settings(tmp_path, "host-a", chroma, database_url)
    _fresh_collection(chroma, settings)
    catalog = Catalog.open(settings.database_url)
    catalog.upsert_titles(SMALL_TITLES)
    index = VectorIndex.open(IndexLocation.from_settings(settings), settings.model, use_embedder.dimension, create=True)
    assert index.remote and not (settings.index_dir / "chroma.sqlite3").exists()
    summary = build_index(catalog, index, use_embedder)
    assert summary.embedded == len(SMALL_TITLES) and index.count() == len(SMALL_TITLES)
    with sa.create_engine(settings.database_url).connect() as conn:  # the bookkeeping is in the catalogue database
        assert conn.execute(sa.text("SELECT count(*) FROM index_vectors")).scalar() == len(SMALL_TITLES)
    assert index_problems(index) == []

    # another host: its own empty home, the same server and database
    replica = FlixRec(_settings(tmp_path, "host-b", chroma, database_url), embedder=use_embedder)
    ranked = replica.similar_titles("small-movie-1", k=5)
    assert len(ranked) == 5 and "small-movie-1" not in [r.title.title_id for r in ranked]
    assert replica.status().in_agreement
    assert replica.similar_to_text("toys come alive", k=3)
    # a second build with nothing to do writes nothing, and the replica keeps its build
    again = build_index(catalog, VectorIndex.open(IndexLocation.from_settings(settings), settings.model), use_embedder)
    assert again.embedded == again.metadata_updated == again.deleted == 0
    assert replica.ready() == index.stamp()
    # a host with no copy of the build: `check` compares the ledger with Chroma, `embed` publishes nothing new
    bare = _settings(tmp_path, "host-c", chroma, database_url)
    assert FlixRec(bare, embedder=use_embedder).status().in_agreement
    stamp = index.stamp()
    build_index(catalog, VectorIndex.open(IndexLocation.from_settings(bare), bare.model), use_embedder)
    assert index.stamp() == stamp


READER = textwrap.dedent("""
    import json, sys, time
    from flixrec.config import Settings
    from flixrec.service import FlixRec
    app = FlixRec(Settings.from_env())
    stamps, errors, queries, after_switch = [], [], 0, 0
    deadline = time.monotonic() + float(sys.argv[1])
    print("ready", app.ready(), flush=True)
    while time.monotonic() < deadline:
        try:
            ranked = app.similar_titles("small-movie-1", k=5)
            assert len(ranked) == 5
            queries += 1
            stamp = app._current_recommender().snapshot.stamp
            if not stamps or stamps[-1] != stamp:
                stamps.append(stamp)
            if len(stamps) > 1:
                after_switch += 1
                if after_switch >= 10:
                    break
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        time.sleep(0.05)
    print(json.dumps({"stamps": stamps, "errors": errors, "queries": queries}), flush=True)
""")


def test_two_replicas_switch_to_a_build_published_by_a_third_process(tmp_path, chroma, database_url, use_embedder):
    settings = _settings(tmp_path, "ingest-host", chroma, database_url)
    _fresh_collection(chroma, settings)
    catalog = Catalog.open(settings.database_url)
    catalog.upsert_titles(SMALL_TITLES[:-3])
    index = VectorIndex.open(IndexLocation.from_settings(settings), settings.model, use_embedder.dimension, create=True)
    build_index(catalog, index, use_embedder)
    first = index.stamp()

    base = {k: v for k, v in os.environ.items() if not k.startswith(("FLIXREC_", "TRAKT_"))}
    readers = [subprocess.Popen([sys.executable, "-c", READER, "60"], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                env={**base, **_environment(tmp_path / f"replica-{n}", chroma.url, database_url,
                                                            settings.model)}) for n in range(2)]
    for reader in readers:
        assert reader.stdout.readline().split() == ["ready", first]
    catalog.upsert_titles(SMALL_TITLES[-3:])
    ingest_run = subprocess.run([sys.executable, "-m", "ingest", "-q", "embed", "--workers", "1"], cwd=ROOT,
                                env={**base, **_environment(tmp_path / "ingest-host", chroma.url, database_url,
                                                            settings.model)},
                                capture_output=True, text=True, timeout=300)
    assert ingest_run.returncode == 0, ingest_run.stderr
    second = VectorIndex.open(IndexLocation.from_settings(settings), settings.model).stamp()
    assert second != first
    for reader in readers:
        out, _ = reader.communicate(timeout=120)
        seen = json.loads(out.strip().splitlines()[-1])
        assert seen["errors"] == [] and seen["queries"] > 0
        assert seen["stamps"] == [first, second]


def test_a_second_writer_is_refused_with_one_error_line(tmp_path, chroma, database_url):
    settings = _settings(tmp_path, "writer", chroma, database_url)
    catalog = Catalog.open(settings.database_url)
    catalog.upsert_titles(SMALL_TITLES[:3])
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FLIXREC_", "TRAKT_"))}
    with writer_lock(catalog.engine, f"the index {collection_name(settings.model)}"):
        run = subprocess.run([sys.executable, "-m", "ingest", "-q", "embed", "--workers", "1"], cwd=ROOT,
                             env={**base, **_environment(tmp_path / "writer", chroma.url, database_url, settings.model)},
                             capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "another writer is building the index" in errors[0] and "pid" in errors[0]
    assert "Traceback" not in run.stderr


def test_a_chroma_server_killed_mid_build_loses_nothing_once_restarted(tmp_path, chroma, database_url, use_embedder,
                                                                       monkeypatch):
    settings = _settings(tmp_path, "crash", chroma, database_url)
    _fresh_collection(chroma, settings)
    catalog = Catalog.open(settings.database_url)
    catalog.upsert_titles(SMALL_TITLES)
    location = IndexLocation.from_settings(settings)
    index = VectorIndex.open(location, settings.model, use_embedder.dimension, create=True)
    monkeypatch.setattr(ingest.embed, "WRITE_BATCH", 8)  # several Chroma writes in a small build
    steps = []

    def kill_after_two_batches(count: int) -> None:
        steps.append(count)
        if len(steps) == 2:
            chroma.kill()

    from flixrec.errors import IndexUnavailable

    with pytest.raises(IndexUnavailable, match="Chroma server"):
        build_index(catalog, index, use_embedder, batch_size=8, progress=kill_after_two_batches)
    chroma.start()
    resumed = VectorIndex.open(location, settings.model, use_embedder.dimension, create=True)
    assert resumed.interrupted()
    summary = build_index(catalog, resumed, use_embedder, batch_size=8)
    assert 0 < summary.embedded < len(SMALL_TITLES)  # what reached the server before the crash is kept
    assert resumed.count() == len(SMALL_TITLES)
    assert index_problems(resumed) == []
    assert FlixRec(settings, embedder=use_embedder).status().in_agreement


def test_the_sqlite_writer_lock_is_released_when_its_holder_dies(tmp_path):
    catalog = Catalog.open(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from flixrec.catalog import Catalog
        from flixrec.writer_lock import writer_lock
        with writer_lock(Catalog.open({str(catalog.engine.url)!r}).engine, "the index x"):
            print("held", flush=True)
            time.sleep(60)
    """)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    from flixrec.errors import WriterBusy

    with pytest.raises(WriterBusy, match=f"pid {holder.pid}"):
        with writer_lock(catalog.engine, "the index x"):
            pass
    holder.kill()
    holder.wait()
    with writer_lock(catalog.engine, "the index x"):  # the kernel released it
        pass
