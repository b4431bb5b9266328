"""The opt-in translations step against the fake Trakt: only titles available in a wanted language are asked,
translated titles become aliases (title search finds them), translated overviews overview versions; paced like
every call, checkpointed, resumable, kept through a listing re-crawl, shown by `trakt status`."""

from __future__ import annotations

import pytest
from fake_trakt import FakeTrakt
from test_trakt import KEY, cli, client_for

from flixrec.catalog import Catalog
from flixrec.config import Settings
from flixrec.search import TitleSearch
from ingest.__main__ import main as ingest_main
from ingest.trakt.client import Pacer
from ingest.trakt.crawl import run_crawl, search_plan
from ingest.trakt.mapping import to_translations
from ingest.trakt.translations import crawl_translations, pending_languages


@pytest.fixture
def fake_trakt():
    """80 movies and 16 shows; every 7th record has only nulls (no available_translations)."""
    with FakeTrakt(movies=80, shows=16, client_id=KEY) as fake:
        yield fake


def available_in(fake: FakeTrakt, media: str, languages: set[str]) -> list[int]:
    """The trakt ids whose record lists one of these languages in available_translations."""
    return [i for i in fake.ids(media) if languages & set(fake.record(media, i).get("available_translations") or ())]


def translation_requests(fake: FakeTrakt) -> list[str]:
    """The paths of the translation requests the fake answered, in order."""
    return [path for _, path, _, status in fake.requests if "/translations" in path and status in (200, 404)]


def test_the_real_answer_shape_maps_to_titles_and_the_first_overview_per_language():
    answer = [  # /movies/{id}/translations: one entry per country, any field null
        {"title": "El Padrino", "overview": "Don Vito Corleone...", "tagline": None, "language": "es", "country": "es"},
        {"title": "El Padrino (MX)", "overview": "Otra sinopsis.", "tagline": None, "language": "es", "country": "mx"},
        {"title": "Der Pate", "overview": None, "tagline": "Ein Angebot...", "language": "de", "country": "de"},
        {"title": None, "overview": None, "tagline": None, "language": "fr", "country": "fr"},
        {"title": "ゴッドファーザー", "overview": "1945年...", "language": "ja", "country": "jp"},
        "not an entry",
    ]
    assert to_translations(answer, ["es", "de", "fr"]) == {
        "es": (("El Padrino", "El Padrino (MX)"), "Don Vito Corleone..."), "de": (("Der Pate",), None)}
    assert to_translations(None, ["de"]) == {} and to_translations({"error": "x"}, ["de"]) == {}


def test_only_titles_available_in_a_wanted_language_are_asked_and_search_finds_the_translated_title(fake_trakt, catalog):
    with client_for(fake_trakt) as client:
        run_crawl(client, catalog, search_plan("movie", None))
        summary = crawl_translations(client, catalog, "movie", ["de", "es"])
    wanted = available_in(fake_trakt, "movie", {"de", "es"})
    assert summary.done and summary.titles == len(wanted) and summary.missing == 0
    asked = translation_requests(fake_trakt)
    assert sorted(int(path.split("/")[2]) for path in asked) == wanted  # one request per title, none for others
    assert all(path.endswith(("/translations/de", "/translations/es")) for path in asked)  # one language each

    german = next(i for i in wanted if fake_trakt.record("movie", i)["language"] == "de"
                  and to_translations(fake_trakt.translations("movie", i), ["de"])["de"][1])
    names, overview = to_translations(fake_trakt.translations("movie", german), ["de"])["de"]
    title = catalog.get_title(f"trakt-movie-{german}")
    assert names[0] in title.aliases and ("de", overview) in title.overviews
    assert title.overviews[0] == ("en", fake_trakt.record("movie", german)["overview"])  # the primary stays first
    found = TitleSearch(catalog).search_titles(names[0], limit=3)
    assert found and found[0].title.title_id == f"trakt-movie-{german}"

    spanish = next(i for i in wanted if fake_trakt.record("movie", i)["language"] == "es"
                   and all(e["title"] for e in fake_trakt.translations("movie", i, "es")))
    both = [e["title"] for e in fake_trakt.translations("movie", spanish, "es")]
    assert len(both) == 2 and set(both) <= set(catalog.get_title(f"trakt-movie-{spanish}").aliases)  # es and mx


def test_a_title_needing_several_languages_is_asked_once_for_all(fake_trakt, catalog):
    with client_for(fake_trakt) as client:
        run_crawl(client, catalog, search_plan("movie", None))
        summary = crawl_translations(client, catalog, "movie", ["en", "fr"])
    wanted = available_in(fake_trakt, "movie", {"en", "fr"})
    french = [i for i in wanted if "fr" in fake_trakt.record("movie", i)["available_translations"]]
    assert summary.titles == len(wanted) and french
    asked = translation_requests(fake_trakt)
    assert sorted(p for p in asked if p.endswith("/translations")) == sorted(f"/movies/{i}/translations" for i in french)
    assert len(asked) == len(wanted)


def test_the_step_resumes_survives_a_listing_recrawl_and_never_asks_twice(fake_trakt, catalog):
    with client_for(fake_trakt) as client:
        run_crawl(client, catalog, search_plan("movie", None))
        first = crawl_translations(client, catalog, "movie", ["de", "ja"], max_titles=5, batch_size=2)
        assert first.titles == 5 and not first.done
        before = catalog.get_title(f"trakt-movie-{available_in(fake_trakt, 'movie', {'de', 'ja'})[0]}")
        rest = crawl_translations(client, catalog, "movie", ["de", "ja"], batch_size=2)
        wanted = available_in(fake_trakt, "movie", {"de", "ja"})
        assert rest.done and first.titles + rest.titles == len(wanted)
        assert len(translation_requests(fake_trakt)) == len(wanted)  # nobody asked twice
        again = crawl_translations(client, catalog, "movie", ["de", "ja"])  # untranslated overviews: remembered
        assert again.titles == 0 and again.done
        recrawl = run_crawl(client, catalog, search_plan("movie", None), restart=True)
    assert (recrawl.new, recrawl.updated, recrawl.unchanged) == (0, 0, 80)  # translations kept, nothing rewritten
    assert catalog.get_title(before.title_id) == before
    state = catalog.get_state("trakt:translations:movie")
    assert state["done"] and state["languages"] == ["de", "ja"]
    assert all(pending_languages(record, ["de", "ja"], state["without_overview"]) == []
               for record in catalog.iter_records(source="trakt"))


def test_an_upstream_change_keeps_the_translations_and_a_title_trakt_lost_is_counted(fake_trakt, catalog):
    def german_overview(i: int) -> str | None:
        return to_translations(fake_trakt.translations("movie", i, "de"), ["de"]).get("de", ((), None))[1]

    available = available_in(fake_trakt, "movie", {"de"})
    german = next(i for i in available if german_overview(i))
    fetched = german_overview(german)
    without = [i for i in available if not german_overview(i)]
    with client_for(fake_trakt) as client:
        run_crawl(client, catalog, search_plan("movie", None))
        crawl_translations(client, catalog, "movie", ["de"])
        fake_trakt.update_title("movie", german, overview="A new English overview.")
        run_crawl(client, catalog, search_plan("movie", None), restart=True)
        fake_trakt.counts["movie"] = german  # Trakt no longer knows the later titles: 404
        summary = crawl_translations(client, catalog, "movie", ["de"], restart=True)
    title = catalog.get_title(f"trakt-movie-{german}")
    assert title.overviews == (("en", "A new English overview."), ("de", fetched))  # the German one kept
    assert summary.titles == len(without) > 0  # --restart asks again only what has no German overview
    assert summary.missing == sum(1 for i in without if i > german) > 0


def test_the_cli_step_is_paced_shown_by_status_and_checks_its_languages(fake_trakt, tmp_path, monkeypatch, capsys):
    assert cli(fake_trakt, tmp_path, monkeypatch, "search", "--years", "all", "--rate", "0", "--type", "movie") == 0
    capsys.readouterr()
    monkeypatch.setattr(Pacer, "__init__", _fast_pacer(Pacer.__init__))
    assert cli(fake_trakt, tmp_path, monkeypatch, "translations", "--languages", "DE, ko", "--type", "movie") == 0
    out = capsys.readouterr().out
    wanted = available_in(fake_trakt, "movie", {"de", "ko"})
    assert f"movie translations (de,ko): {len(wanted)} titles asked" in out and "complete" in out
    arrivals = [t for t, path, *_ in fake_trakt.requests if "/translations" in path]
    assert len(arrivals) > 10
    # paced as Trakt counts (at most 10 requests in any second, seen by the server) and without bursts;
    # the server's clock sees each arrival a little late or early, which the pacer's margin absorbs
    assert min(b - a for a, b in zip(arrivals, arrivals[10:])) > 1.0
    assert min(b - a for a, b in zip(arrivals, arrivals[1:])) > 0.05
    assert cli(fake_trakt, tmp_path, monkeypatch, "status") == 0
    status = capsys.readouterr().out
    assert "trakt:translations:movie: {'languages': ['de', 'ko'], 'done': True, 'without_overview': " in status
    catalog = Catalog.open(Settings.from_env().database_url)
    assert any(a.startswith("Der ") for t in catalog.iter_titles() for a in t.aliases)
    with pytest.raises(SystemExit) as exited:
        ingest_main(["trakt", "translations", "--languages", "german"])
    assert exited.value.code == 2
    assert "argument --languages: 'german' is not a comma-separated list of two-letter" in capsys.readouterr().err


def _fast_pacer(init):
    """Pacer.__init__ pacing at 10 requests a second whatever the CLI asks (the test's rate), with a margin
    of a tenth (the default hundredth is tuned for 5-minute windows, not for a one-second window)."""
    def fast(self, requests, period=300.0, *args, **kwargs):
        init(self, 10, 1.0, 0.1)
    return fast
