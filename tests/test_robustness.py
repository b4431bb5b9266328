"""Issue 16: damaged files, bad settings and hostile arguments end in a FlixrecError that names the file or
value and the fix (credentials redacted), and the documented command repairs the damage.

Real SQLite catalogues and Chroma directories over the small hand-written catalogue, the real USE model.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np
import pytest

from flixrec.catalog import Catalog
from flixrec.config import Settings
from flixrec.errors import (
    CatalogUnavailable,
    ConfigError,
    EmbedderUnavailable,
    FlixrecError,
    IndexUnavailable,
    InvalidRequest,
    TitleNotFound,
)
from flixrec.index import VectorIndex, index_problems, load_snapshot, read_snapshot, snapshot_dir
from flixrec.models import Filters
from flixrec.redact import redact_text, redact_url
from flixrec import service
from flixrec.service import FlixRec
from flixrec.validation import MAX_K
from ingest.embed import build_index, repair_index

from conftest import build_home
from small_catalogue import SMALL_TITLES

SEED = next(t.title_id for t in SMALL_TITLES if t.title == "Interstellar")


@pytest.fixture
def home(tmp_path: Path, use_embedder) -> Settings:
    """A fresh home over the small catalogue, built and published."""
    return build_home(tmp_path / "home", "use-multilingual", use_embedder, SMALL_TITLES)


def _index(settings: Settings) -> VectorIndex:
    return VectorIndex.open(settings.index_dir, settings.model)


# ---- defect 2: damaged snapshot files ---------------------------------------------------------------

def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _halve(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


DAMAGE = [("matrix.npy", _empty), ("matrix.npy", _halve), ("tie_rank.npy", _empty), ("tie_rank.npy", _halve),
          ("columns.npz", _halve), ("ids.npy", _halve), ("ids.npy", _empty)]


@pytest.mark.parametrize(("name", "damage"), DAMAGE, ids=[f"{n}-{d.__name__[1:]}" for n, d in DAMAGE])
def test_a_damaged_snapshot_is_never_served_check_names_it_and_embed_rewrites_it(home, use_embedder, name, damage):
    index = _index(home)
    stamp = index.stamp()
    damage(snapshot_dir(index, stamp) / name)

    assert read_snapshot(index, stamp) is None  # validated on open: never half-served
    app = FlixRec(home, embedder=use_embedder)
    results = app.similar_titles(SEED, k=5)  # falls back to Chroma, no EOFError / BadZipFile
    assert len(results) == 5 and SEED not in {r.title.title_id for r in results}

    status = app.status()
    assert not status.in_agreement
    assert any(name in line and "python -m ingest embed" in line for line in status.problems()), status.problems()

    catalog = Catalog.open(home.database_url)
    build_index(catalog, index, use_embedder)  # nothing to embed, but the snapshot is damaged: republished
    assert index.stamp() != stamp and index_problems(index) == []
    assert FlixRec(home, embedder=use_embedder).status().in_agreement
    assert isinstance(load_snapshot(index).matrix, np.memmap)


def test_a_flipped_byte_is_caught_by_the_checksum(home):
    index = _index(home)
    path = snapshot_dir(index, index.stamp()) / "matrix.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert read_snapshot(index, index.stamp()) is not None  # sizes and shapes are fine: served
    assert any("checksum" in p for p in index_problems(index))  # check reads every byte


def test_check_on_an_empty_home_does_not_agree(tmp_path):
    settings = Settings.from_mapping({"FLIXREC_HOME": str(tmp_path)})
    status = FlixRec(settings).status()
    assert not status.in_agreement
    assert any("catalogue is empty" in line for line in status.problems())


def test_a_build_that_stopped_before_publishing_is_reported_and_republished(home, use_embedder):
    index = _index(home)
    stamp = index.stamp()
    index.ledger.mark_dirty()  # what a build killed after its writes, before its stamp, leaves
    assert any("stopped before publishing" in p for p in index_problems(index))
    assert not FlixRec(home).status().in_agreement
    summary = build_index(Catalog.open(home.database_url), index, use_embedder)
    assert summary.embedded == 0 and index.stamp() != stamp and index_problems(index) == []


# ---- a new build that loads slowly (a large catalogue's ranking features) ---------------------------

def test_requests_are_answered_from_the_served_build_while_a_new_one_loads(home, use_embedder, monkeypatch):
    """A new build is loaded in the background: requests wait for it only until RELOAD_WAIT_S after its load began
    (at 300k titles its ranking features take over a minute), then the build served until then answers them; the
    new build is served once loaded, and a build that loads within the wait is served at once."""
    app = FlixRec(home, embedder=use_embedder)
    first = app.build_stamp()
    assert len(app.similar_titles(SEED, k=5)) == 5
    catalog = Catalog.open(home.database_url)
    moon = dataclasses.replace(SMALL_TITLES[0], title_id="small-movie-moon", title="Moon Harvest", trakt_id=None,
                               overview="Astronauts farm potatoes in a dome on the Moon to survive a long winter.")
    catalog.upsert_titles([moon])
    build_index(catalog, _index(home), use_embedder)
    second = _index(home).stamp()
    assert second != first

    monkeypatch.setattr(service, "RELOAD_WAIT_S", 0.0)  # as if the load took longer than the wait
    assert app.build_stamp() == first  # answered at once, from the build already served
    assert len(app.similar_titles(SEED, k=5)) == 5
    deadline = time.monotonic() + 60
    while app.build_stamp() != second and time.monotonic() < deadline:
        assert len(app.similar_titles(SEED, k=5)) == 5
        time.sleep(0.02)
    assert app.build_stamp() == second
    assert [m.title.title_id for m in app.search_titles("Moon Harvest")][:1] == [moon.title_id]  # its name search too

    monkeypatch.setattr(service, "RELOAD_WAIT_S", 60.0)
    catalog.upsert_titles([dataclasses.replace(moon, title_id="small-movie-moon-2", title="Moon Harvest II")])
    build_index(catalog, _index(home), use_embedder)
    assert app.build_stamp() == _index(home).stamp() != second  # loaded within the wait: served at once


# ---- defect 8: garbage ledger, catalogue, chroma.sqlite3 -------------------------------------------

def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not a database " * 200)


def test_a_garbage_ledger_names_itself_and_repair_rebuilds_it(home, use_embedder):
    index = _index(home)
    ledger = index.ledger.path
    index.ledger.close()
    _garbage(ledger)
    with pytest.raises(IndexUnavailable, match=r"ledger\.sqlite3.*python -m ingest repair"):
        FlixRec(home).status()
    report = repair_index(Catalog.open(home.database_url), home.index_dir, home.model, use_embedder)
    assert [p.name.split(".damaged-")[0] for p in report.moved_aside] == [ledger.name]
    assert report.problems == [] and FlixRec(home, embedder=use_embedder).status().in_agreement


def test_a_garbage_chroma_database_names_itself_and_repair_rebuilds_the_index(home, use_embedder):
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(str(home.index_dir), None)  # as a fresh process would open it
    _garbage(home.index_dir / "chroma.sqlite3")
    with pytest.raises(IndexUnavailable, match=r"chroma\.sqlite3.*python -m ingest repair"):
        FlixRec(home).similar_titles(SEED)
    report = repair_index(Catalog.open(home.database_url), home.index_dir, home.model, use_embedder)
    assert report.summary.embedded == len(SMALL_TITLES) and report.problems == []
    assert len(FlixRec(home, embedder=use_embedder).similar_titles(SEED, k=5)) == 5


def test_a_garbage_catalogue_names_the_file_and_what_to_run(home):
    path = Path(home.database_url.removeprefix("sqlite:///"))
    for journal in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        journal.unlink(missing_ok=True)
    _garbage(path)
    with pytest.raises(CatalogUnavailable, match=r"flixrec\.sqlite3.*damaged.*python -m ingest demo"):
        FlixRec(home).status()


# ---- defects 7 and 9: database URLs ------------------------------------------------------------------

@pytest.mark.parametrize("url", ["postgres:S3CRETPW@host/db", "postgresql://user:S3CRETPW@host/db",
                                 "postgresql+psycopg2://u:S3CRETPW@h:notaport/db", "foo://u:S3CRETPW@bar"])
def test_no_message_about_a_database_url_shows_its_password(tmp_path, url):
    with pytest.raises(ConfigError) as caught:
        settings = Settings.from_mapping({"FLIXREC_HOME": str(tmp_path), "FLIXREC_DATABASE_URL": url})
        Catalog.open(settings.database_url)
    assert "S3CRETPW" not in str(caught.value)
    assert "\n" not in str(caught.value)


def test_redaction_covers_well_formed_malformed_and_quoted_urls():
    assert redact_url("postgres:PW@host/db") == "postgres:***@host/db"
    assert redact_url("postgresql://u:p@ss@h:5432/db") == "postgresql://***@h:5432/db"
    assert redact_url("postgresql://h/db?password=PW&sslmode=require") == "postgresql://h/db?password=***&sslmode=require"
    assert redact_url("sqlite:////home/me/flixrec.sqlite3") == "sqlite:////home/me/flixrec.sqlite3"
    assert "PW" not in redact_text("could not parse 'postgresql://u:PW@h/db' (password=PW)")


@pytest.mark.parametrize(("url", "error", "hint"), [
    ("foo://bar", ConfigError, "names no database"),
    ("postgresql+psycopg2://u@localhost:port/db", ConfigError, "port is not a number"),
    ("postgresql+psycopg2://u:pw@127.0.0.1:1/db", CatalogUnavailable, "server is running"),
])
def test_bad_database_urls_say_how_to_fix_them(tmp_path, url, error, hint):
    with pytest.raises(error, match=hint):
        FlixRec(Settings.from_mapping({"FLIXREC_HOME": str(tmp_path), "FLIXREC_DATABASE_URL": url})).status()


def test_a_directory_as_the_sqlite_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="points at a directory"):
        FlixRec(Settings.from_mapping({"FLIXREC_HOME": str(tmp_path),
                                       "FLIXREC_DATABASE_URL": f"sqlite:///{tmp_path}"})).status()


# ---- defect 10: unknown model offline ----------------------------------------------------------------

def test_an_unknown_model_fails_fast_offline(monkeypatch):
    import time

    from flixrec.embedding import load_embedder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    began = time.monotonic()
    with pytest.raises(EmbedderUnavailable, match="neither a local path nor in the Hugging Face cache"):
        load_embedder("no-such-org/no-such-model")
    assert time.monotonic() - began < 10


# ---- defects 5 and 6: k, numbers and text at the core's boundary ------------------------------------

@pytest.mark.parametrize("k", [0, -5, MAX_K + 1, 2**63, 10**400, math.nan, 5.0, True, "5", None])
def test_k_is_validated_once_at_the_boundary(small_app: FlixRec, k):
    for call in (lambda: small_app.similar_titles(SEED, k=k), lambda: small_app.similar_to_text("space", k=k),
                 lambda: small_app.franchise_titles(SEED, k=k), lambda: small_app.search_titles("alien", limit=k)):
        with pytest.raises(InvalidRequest) as caught:
            call()
        assert "\n" not in str(caught.value) and len(str(caught.value)) < 200


def test_k_nan_with_nothing_passing_returns_at_once(small_app: FlixRec):
    with pytest.raises(InvalidRequest):
        small_app.similar_titles(SEED, k=math.nan, filters=Filters(year_min=3000))
    assert small_app.similar_titles(SEED, k=MAX_K, filters=Filters(year_min=3000)) == []


@pytest.mark.parametrize("bound", [10**400, -(10**400), math.nan, math.inf, 10**16])
def test_huge_or_non_finite_filter_bounds_are_invalid_requests(small_app: FlixRec, bound):
    with pytest.raises(InvalidRequest, match="min_votes"):
        small_app.similar_titles(SEED, filters=Filters(min_votes=bound))
    with pytest.raises(InvalidRequest):
        small_app.explore_catalogue(Filters(year_min=bound))


@pytest.mark.parametrize("title_id", ["\udcff\udcfe", "x" * 10_000, "a\x00b", "千と千尋\ud800"])
def test_ids_no_title_can_have_are_not_found(small_app: FlixRec, title_id):
    for call in (small_app.get_title, small_app.similar_titles, small_app.franchise_titles,
                 small_app.score_distribution, small_app.similar_view, small_app.similarity_map):
        with pytest.raises(TitleNotFound) as caught:
            call(title_id)
        assert "\n" not in str(caught.value) and len(str(caught.value)) < 200


@pytest.mark.parametrize("text", ["\udcff\udcfe space", "A" * 10_000, "🎬\ud83c", "\x00"])
def test_text_with_lone_surrogates_or_huge_gives_a_sane_result(small_app: FlixRec, text):
    assert isinstance(small_app.similar_to_text(text, k=3), list)
    assert isinstance(small_app.search_titles(text), list)
    hidden = Filters(exclude_ids={text}, genres_include={text, "Drama"}, languages={text, "en"})
    assert all(hidden.accepts(r.title) for r in small_app.similar_titles(SEED, k=5, filters=hidden))
    assert len(small_app.explore_catalogue(hidden)) >= 0


def test_every_domain_error_is_a_flixrec_error():
    for error in (InvalidRequest, CatalogUnavailable, IndexUnavailable, TitleNotFound, ConfigError):
        assert issubclass(error, FlixrecError)

