"""Shared fixtures: real SQLite files, real Chroma directories, the real packaged models, the real demo data.

The demo packages are downloaded once into ~/.cache/flixrec/downloads (outside the repo) and reused.
The full demo catalogue is built and embedded once per run with the default model (`demo_settings`; under
pytest-xdist by the first worker that needs it);
the fast tier uses `small_home`, a few dozen hand-written titles, instead. Tests are put in tiers by the
fixtures they use (`pytest_collection_modifyitems` below): `make test-fast` runs what needs neither the
demo catalogue, PostgreSQL, a browser, nor is marked slow.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from flixrec.catalog import Catalog
from flixrec.config import Settings, default_home
from flixrec.embedding import Embedder, load_embedder
from flixrec.index import VectorIndex
from flixrec.service import FlixRec

# Hypothesis profiles: `quick` (the default, what `make test` runs) and `deep` (pytest --hypothesis-profile=deep,
# at least 10,000 examples per property). Tests that set max_examples themselves keep their own.
hypothesis_settings.register_profile("quick", max_examples=60, deadline=None)
hypothesis_settings.register_profile(
    "deep", max_examples=10_000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
hypothesis_settings.load_profile("quick")

SHARED_DOWNLOADS = Path(os.environ.get("FLIXREC_TEST_DOWNLOADS", default_home() / "downloads"))
# Development shortcut (never set in CI): reuse an already built demo home instead of embedding the
# whole demo catalogue again in each session. Tests treat it as read-only.
PREBUILT_DEMO_HOME = os.environ.get("FLIXREC_TEST_DEMO_HOME")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees a developer's FlixRec or Trakt settings."""
    for key in list(os.environ):
        if key.startswith(("FLIXREC_", "TRAKT_")):
            monkeypatch.delenv(key, raising=False)


def make_settings(home: Path, model: str = "use-multilingual", **extra: str) -> Settings:
    """Settings for a FlixRec home in a temp dir, with the shared download cache."""
    return Settings.from_mapping({"FLIXREC_HOME": str(home), "FLIXREC_DOWNLOADS": str(SHARED_DOWNLOADS),
                                  "FLIXREC_MODEL": model, **extra})


def run_shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory every process of this run sees: under pytest-xdist (`make test`) the workers' common
    base directory, else this session's."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextlib.contextmanager
def run_lock(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """Held by one process of this run at a time (the others wait): work done once for all workers."""
    shared = run_shared_dir(tmp_path_factory)
    with open(shared / f"{name}.lock", "w") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield shared
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def demo_reports(tmp_path_factory: pytest.TempPathFactory):
    """The parsed demo catalogue (TMDB-5000 + anime), fetched once into the shared cache."""
    from ingest.demo import iter_demo_reports

    with run_lock(tmp_path_factory, "demo-downloads"):  # one worker downloads, the others read its files
        return {r.source: r for r in iter_demo_reports(SHARED_DOWNLOADS)}


@pytest.fixture(scope="session")
def use_embedder() -> Embedder:
    """The multilingual USE model (the default), loaded once."""
    return load_embedder("use-multilingual")


@pytest.fixture(scope="session")
def minilm_embedder() -> Embedder:
    """The packaged all-MiniLM-L6-v2 (sentence-transformers), loaded once."""
    return load_embedder("all-MiniLM-L6-v2")


def build_home(home: Path, model: str, embedder: Embedder, titles) -> Settings:
    """A FlixRec home with these titles in a real SQLite catalogue and a real Chroma index."""
    from ingest.embed import build_index

    settings = make_settings(home, model)
    catalog = Catalog.open(settings.database_url)
    catalog.upsert_titles(titles)
    index = VectorIndex.open(settings.index_dir, model, dimension=embedder.dimension, create=True)
    build_index(catalog, index, embedder)
    return settings


@pytest.fixture(scope="session")
def demo_settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a home holding the whole demo catalogue, embedded with the default model: built once per
    run by the first worker that needs it (the others wait for it), then read by all of them."""
    if PREBUILT_DEMO_HOME:
        return make_settings(Path(PREBUILT_DEMO_HOME), "use-multilingual")
    with run_lock(tmp_path_factory, "demo-home") as shared:
        home, built = shared / "demo-home", shared / "demo-home.built"
        if not built.exists():
            shutil.rmtree(home, ignore_errors=True)  # a build that died half-way starts again
            titles = [t for r in request.getfixturevalue("demo_reports").values() for t in r.titles]
            build_home(home, "use-multilingual", request.getfixturevalue("use_embedder"), titles)
            built.touch()
    return make_settings(home, "use-multilingual")


@pytest.fixture(scope="session")
def demo_app(demo_settings, use_embedder) -> FlixRec:
    """FlixRec over the full demo catalogue (default model)."""
    return FlixRec(demo_settings, embedder=use_embedder)


@pytest.fixture(scope="session")
def small_home(tmp_path_factory: pytest.TempPathFactory, use_embedder) -> Settings:
    """Settings of a home holding the hand-written small catalogue (tests/small_catalogue.py), embedded with
    the default model: the fast tier's stand-in for the demo (no download, a few seconds to build)."""
    from small_catalogue import SMALL_TITLES

    return build_home(tmp_path_factory.mktemp("small-home"), "use-multilingual", use_embedder, SMALL_TITLES)


@pytest.fixture(scope="session")
def small_app(small_home, use_embedder) -> FlixRec:
    """FlixRec over the small catalogue (default model)."""
    return FlixRec(small_home, embedder=use_embedder)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL server on 127.0.0.1 for this session (the Makefile installs it when missing)."""
    import pg_server

    if not pg_server.available():
        pytest.fail("PostgreSQL is not installed: run `make test` (it installs it) or apt-get install postgresql")
    with pg_server.running_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def any_catalog(request, tmp_path: Path) -> Iterator[Catalog]:
    """An empty catalogue in a fresh SQLite file, or in a fresh database on a real PostgreSQL server."""
    if request.param == "sqlite":
        cat = Catalog.open(f"sqlite:///{tmp_path / 'catalog.sqlite3'}")
    else:
        import sqlalchemy as sa

        server_url = request.getfixturevalue("postgres_server")
        name = f"t{os.getpid()}_{abs(hash(request.node.nodeid)) % 10**9}"
        admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        admin.dispose()
        cat = Catalog.open(server_url.rsplit("/", 1)[0] + f"/{name}")
    yield cat
    cat.engine.dispose()


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    """An empty catalogue in a fresh SQLite file."""
    cat = Catalog.open(f"sqlite:///{tmp_path / 'catalog.sqlite3'}")
    yield cat
    cat.engine.dispose()


# Fixtures that put a test in a tier (pytest.ini markers), whatever the module: `make test-fast` skips them.
TIER_FIXTURES = {
    "demo": ("demo_reports", "demo_settings", "demo_app"),
    "postgres": ("postgres_server",),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test by what it needs: the demo catalogue (`demo`) or a PostgreSQL server (`postgres`).

    Then order the files for the workers (`make test` runs them on pytest-xdist, a file at a time): the
    first file that needs the demo catalogue first, so its build starts at once, then the files that do
    not need it, and the other demo files last, by when the catalogue is built.
    """
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for marker, fixtures in TIER_FIXTURES.items():
            if names.intersection(fixtures):
                item.add_marker(marker)
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("any_catalog") == "postgres":
            item.add_marker("postgres")
    demo_files = list(dict.fromkeys(item.path for item in items if item.get_closest_marker("demo")))
    order = {path: (0 if i == 0 else 2) for i, path in enumerate(demo_files)}
    items.sort(key=lambda item: order.get(item.path, 1))  # stable: the order within a file is kept


@pytest.fixture
def app_env(demo_settings, monkeypatch) -> Settings:
    """The app's environment (as `streamlit run` would see it) pointing at the demo home."""
    monkeypatch.setenv("FLIXREC_HOME", str(demo_settings.home))
    monkeypatch.setenv("FLIXREC_DOWNLOADS", str(demo_settings.downloads_dir))
    monkeypatch.setenv("FLIXREC_MODEL", demo_settings.model)
    return demo_settings
