"""Embedding into a real Chroma directory: incremental, per-model collections, genres kept in the text."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from flixrec.catalog import Catalog
from flixrec.embedding import collection_name, embed_titles, embedding_text, embedding_texts
from flixrec.errors import IndexNotBuilt, IndexUnavailable
from flixrec.index import HNSW_CONFIGURATION, IndexLedger, VectorIndex, chroma_client, load_snapshot, title_metadata
from flixrec.service import FlixRec
from ingest.embed import BUILD_FIELDS, build_index, plan_build

from conftest import make_settings


@pytest.fixture
def small(tmp_path, demo_reports):
    """A home with 60 real TMDB movies in the catalogue, nothing embedded yet."""
    settings = make_settings(tmp_path)
    catalog = Catalog.open(settings.database_url)
    titles = demo_reports["tmdb5000"].titles[:60]
    catalog.upsert_titles(titles)
    return settings, catalog, titles


def test_embed_is_incremental_and_a_rerun_changes_nothing(small, use_embedder):
    settings, catalog, titles = small
    index = VectorIndex.open(settings.index_dir, settings.model, dimension=512, create=True)
    first = build_index(catalog, index, use_embedder, batch_size=16)
    assert (first.embedded, first.unchanged) == (60, 0) and index.count() == 60
    stamp = index.stamp()
    again = build_index(catalog, index, use_embedder)
    assert (again.embedded, again.metadata_updated, again.deleted, again.unchanged) == (0, 0, 0, 60)
    assert index.stamp() == stamp  # nothing changed: readers keep their snapshot

    # new overview -> only that title is re-embedded; new vote count -> metadata only
    catalog.upsert_titles([dataclasses.replace(titles[0], overview="A quiet drama about a lighthouse keeper."),
                           dataclasses.replace(titles[1], votes=(titles[1].votes or 0) + 1)])
    catalog.delete_titles([titles[2].title_id])
    third = build_index(catalog, index, use_embedder)
    assert (third.embedded, third.metadata_updated, third.deleted, third.unchanged) == (1, 1, 1, 57)
    assert index.stamp() != stamp
    snapshot = load_snapshot(index)
    row = snapshot.position(titles[1].title_id)
    assert snapshot.numeric["votes"][row] == (titles[1].votes or 0) + 1
    assert snapshot.position(titles[2].title_id) is None
    stored = index.collection.get(ids=[titles[0].title_id], include=["embeddings"])["embeddings"][0]
    assert np.allclose(stored, snapshot.vector(titles[0].title_id), atol=1e-6)  # the re-embedded vector replaced the old


def test_a_build_killed_half_way_resumes_without_redoing_work(small, use_embedder):
    settings, catalog, _ = small
    index = VectorIndex.open(settings.index_dir, settings.model, dimension=512, create=True)

    class Crash(Exception):
        pass

    def crash_after_two_batches(done: int, seen=[0]) -> None:  # noqa: B006 - a counter on purpose
        seen[0] += done
        if seen[0] >= 32:
            raise Crash

    with pytest.raises(Crash):
        build_index(catalog, index, use_embedder, batch_size=16, progress=crash_after_two_batches)
    assert index.count() == 32 and index.stamp() is None  # no half build is ever published
    resumed = build_index(catalog, index, use_embedder, batch_size=16)
    assert (resumed.embedded, resumed.unchanged) == (28, 32) and index.stamp() is not None
    assert len(load_snapshot(index)) == 60  # the snapshot holds the vectors of the interrupted build too


def test_an_interrupted_incremental_build_still_publishes_a_complete_snapshot(small, use_embedder):
    settings, catalog, titles = small
    index = VectorIndex.open(settings.index_dir, settings.model, dimension=512, create=True)
    build_index(catalog, index, use_embedder)
    catalog.upsert_titles([dataclasses.replace(t, overview=f"Story number {n} of a lighthouse.") for n, t in enumerate(titles[:40])])

    class Crash(Exception):
        pass

    def crash(done: int) -> None:
        raise Crash

    with pytest.raises(Crash):
        build_index(catalog, index, use_embedder, batch_size=16, progress=crash)  # 16 new vectors reach Chroma
    assert index.interrupted()
    resumed = build_index(catalog, index, use_embedder, batch_size=16)
    assert (resumed.embedded, resumed.unchanged) == (24, 36) and not index.interrupted()
    snapshot = load_snapshot(index)
    ids = [t.title_id for t in titles]
    stored = index.collection.get(ids=ids, include=["embeddings"])
    by_id = dict(zip(stored["ids"], stored["embeddings"]))
    # the 16 written before the crash are new in the snapshot too (not the last snapshot's old vectors)
    assert all(np.allclose(snapshot.vector(i), by_id[i], atol=1e-6) for i in ids)


def test_rows_a_killed_write_may_have_half_written_are_embedded_again(small, use_embedder):
    settings, catalog, titles = small
    index = VectorIndex.open(settings.index_dir, settings.model, dimension=512, create=True)
    build_index(catalog, index, use_embedder)
    index.ledger.mark_pending([titles[3].title_id])  # what a build SIGKILLed inside a Chroma write leaves
    plan = plan_build(catalog, index)
    assert (plan.to_embed, plan.new, plan.to_update) == ([titles[3].title_id], set(), [])  # upserted: it may be stored
    assert build_index(catalog, index, use_embedder, plan=plan).embedded == 1
    assert plan_build(catalog, index).to_embed == [] and index.count() == 60


def test_an_index_built_before_the_ledger_is_adopted_without_re_embedding(small, use_embedder):
    settings, catalog, titles = small
    index = VectorIndex.open(settings.index_dir, settings.model, dimension=512, create=True)
    build_index(catalog, index, use_embedder)
    # an older build: its hashes in Chroma's metadata (the record hash of the title without people), no ledger
    ids = [t.title_id for t in titles]
    old = catalog.find_titles(ids, with_people=False)
    index.collection.update(ids=ids, metadatas=[{**title_metadata(old[i]), "content_hash": old[i].content_hash,
                                                 "record_hash": old[i].record_hash} for i in ids])
    index.ledger.close()
    index.ledger.path.unlink()
    catalog.upsert_titles([dataclasses.replace(titles[1], votes=(titles[1].votes or 0) + 7)])
    adopted = VectorIndex.open(settings.index_dir, settings.model)
    plan = plan_build(catalog, adopted)
    assert (plan.to_embed, plan.to_update, len(plan.relabel), plan.unchanged) == ([], [titles[1].title_id], 59, 59)
    summary = build_index(catalog, adopted, use_embedder, plan=plan)
    assert (summary.embedded, summary.metadata_updated) == (0, 1)
    assert {i: h[:2] for i, h in adopted.ledger.hashes().items()} == catalog.hash_pairs()
    again = plan_build(catalog, adopted)
    assert (again.to_embed, again.to_update, again.relabel, again.unchanged) == ([], [], {}, 60)
    assert FlixRec(settings).status().in_agreement


def test_each_model_has_its_own_collection_and_vectors_never_mix(small, use_embedder, minilm_embedder):
    settings, catalog, _ = small
    use_index = VectorIndex.open(settings.index_dir, "use-multilingual", dimension=512, create=True)
    build_index(catalog, use_index, use_embedder)
    with pytest.raises(IndexNotBuilt, match="FLIXREC_MODEL=all-MiniLM-L6-v2 python -m ingest embed"):
        VectorIndex.open(settings.index_dir, "all-MiniLM-L6-v2")
    minilm_index = VectorIndex.open(settings.index_dir, "all-MiniLM-L6-v2", dimension=384, create=True)
    build_index(catalog, minilm_index, minilm_embedder)
    assert collection_name("use-multilingual") != collection_name("all-MiniLM-L6-v2")
    assert load_snapshot(use_index).matrix.shape == (60, 512)
    assert load_snapshot(minilm_index).matrix.shape == (60, 384)


def test_vectors_are_unit_length_and_chroma_scores_agree(small, use_embedder):
    settings, catalog, titles = small
    index = VectorIndex.open(settings.index_dir, settings.model, dimension=512, create=True)
    build_index(catalog, index, use_embedder)
    snapshot = load_snapshot(index)
    assert np.allclose(np.linalg.norm(snapshot.matrix, axis=1), 1.0, atol=1e-4)
    seed = snapshot.vector(titles[0].title_id)
    chroma = index.collection.query(query_embeddings=[seed], n_results=5, include=["distances"])
    ours = snapshot.nearest(seed, 5)
    assert chroma["ids"][0] == [tid for tid, _ in ours]  # cosine space: score == 1 - distance
    assert np.allclose([1 - d for d in chroma["distances"][0]], [s for _, s in ours], atol=1e-4)


def test_a_first_build_does_not_read_its_vectors_back(small, use_embedder, monkeypatch):
    settings, catalog, _ = small
    index = VectorIndex.open(settings.index_dir, settings.model, dimension=512, create=True)
    reads = []
    original = VectorIndex.iter_records

    def counting(self, include_vectors=True, batch_size=5000):
        reads.append(include_vectors)
        return original(self, include_vectors, batch_size)

    monkeypatch.setattr(VectorIndex, "iter_records", counting)
    build_index(catalog, index, use_embedder)
    assert True not in reads and len(load_snapshot(index)) == 60


def test_new_collections_get_the_build_configuration_and_old_ones_keep_working(tmp_path, small, use_embedder):
    settings, catalog, titles = small
    fresh = VectorIndex.open(settings.index_dir, settings.model, dimension=512, create=True)
    hnsw = fresh.collection.configuration["hnsw"]
    assert {key: hnsw[key] for key in HNSW_CONFIGURATION} == HNSW_CONFIGURATION

    # a collection made by an older FlixRec (Chroma's default HNSW settings) opens, builds and answers queries
    old_dir = tmp_path / "old-index"
    client = chroma_client(old_dir)
    client.create_collection(collection_name(settings.model), configuration={"hnsw": {"space": "cosine"}},
                             metadata={"model": settings.model, "dimension": 512}, embedding_function=None)
    old = VectorIndex.open(old_dir, settings.model, dimension=512, create=True)
    assert old.collection.configuration["hnsw"]["ef_construction"] == 100
    assert build_index(catalog, old, use_embedder).embedded == 60
    catalog.upsert_titles([dataclasses.replace(titles[0], overview="A quiet drama about a lighthouse keeper.")])
    assert build_index(catalog, old, use_embedder).embedded == 1
    seed = load_snapshot(old).vector(titles[0].title_id)
    assert old.collection.query(query_embeddings=[seed], n_results=1, include=[])["ids"][0] == [titles[0].title_id]


def test_chroma_where_filters_work_on_every_stored_field(small, use_embedder):
    settings, catalog, titles = small
    index = VectorIndex.open(settings.index_dir, settings.model, dimension=512, create=True)
    build_index(catalog, index, use_embedder)
    by_id = {t.title_id: t for t in titles}
    genre = titles[0].genres[0]
    where = {"$and": [{"year": {"$gte": 2000}}, {"runtime": {"$gte": 90}}, {"votes": {"$gte": 100}},
                      {"rating": {"$gte": 5.0}}, {"genres": {"$contains": genre}}, {"media_type": "movie"},
                      {"language": "en"}]}
    expected = {t.title_id for t in titles if (t.year or 0) >= 2000 and (t.runtime or 0) >= 90 and (t.votes or 0) >= 100
                and (t.rating or 0) >= 5.0 and genre in t.genres and t.language == "en"}
    assert expected
    seed = load_snapshot(index).vector(titles[0].title_id)
    got = index.collection.query(query_embeddings=[seed], n_results=60, where=where, include=[])["ids"][0]
    assert set(got) == expected
    stored = index.collection.get(ids=[titles[5].title_id], include=["metadatas"])["metadatas"][0]
    assert set(stored) <= {"media_type", "year", "runtime", "votes", "rating", "language", "genres"}  # hashes: in the ledger
    assert index.stored_hashes()[titles[5].title_id][0] == by_id[titles[5].title_id].content_hash


def test_genres_survive_the_model_token_limit(demo_reports, minilm_embedder):
    title = dataclasses.replace(demo_reports["tmdb5000"].titles[0], overview="word " * 600)
    [text] = embedding_texts([title], minilm_embedder)
    assert text.endswith("Genres: " + ", ".join(title.genres))
    assert minilm_embedder.count_tokens([text])[0] <= minilm_embedder.max_tokens
    assert embedding_text(demo_reports["tmdb5000"].titles[0]).startswith("Avatar: In the 22nd century")


def test_missing_index_tells_how_to_build_it(tmp_path):
    app = FlixRec(make_settings(tmp_path))
    with pytest.raises(IndexNotBuilt, match="python -m ingest"):
        app.search_titles("Batman")


def test_ingest_embeds_in_worker_processes_with_the_same_vectors(tmp_path, demo_reports, use_embedder):
    """`python -m ingest embed --workers 2` (a real subprocess, as a user runs it) stores the in-process vectors."""
    import os
    import subprocess
    import sys

    settings = make_settings(tmp_path)
    titles = demo_reports["bgmd"].titles[:100] + demo_reports["tmdb5000"].titles[:100]
    Catalog.open(settings.database_url).upsert_titles(titles)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLIXREC_", "TRAKT_"))}
    env.update(FLIXREC_HOME=str(tmp_path), OPENBLAS_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-m", "ingest", "-q", "embed", "--workers", "2"], env=env,
                            cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "200 embedded" in result.stdout
    snapshot = load_snapshot(VectorIndex.open(settings.index_dir, settings.model))
    stored = np.stack([snapshot.vector(t.title_id) for t in titles])
    assert np.allclose(stored, embed_titles(titles, use_embedder), atol=1e-5)


def test_a_changed_record_with_the_same_metadata_writes_nothing_to_chroma(small, use_embedder):
    settings, catalog, titles = small
    index = VectorIndex.open(settings.index_dir, settings.model, dimension=512, create=True)
    build_index(catalog, index, use_embedder)
    stamp = index.stamp()
    with_people = catalog.get_title(titles[4].title_id)
    catalog.upsert_titles([dataclasses.replace(with_people, people=with_people.people[:1], imdb_id="tt0000001")])
    plan = plan_build(catalog, index)
    assert (plan.to_embed, plan.to_update, list(plan.relabel)) == ([], [], [titles[4].title_id])
    summary = build_index(catalog, index, use_embedder, plan=plan)
    assert (summary.embedded, summary.metadata_updated, summary.unchanged) == (0, 0, 60) and index.stamp() == stamp
    assert plan_build(catalog, index).relabel == {}  # the ledger has the new record hash


def test_the_ledger_keeps_hashes_pending_rows_and_its_owner(tmp_path):
    folder = tmp_path / "odd dir #1?"
    folder.mkdir()
    ledger = IndexLedger(folder / "c.ledger.sqlite3", "collection-a")
    assert ledger.hashes() == {} and not ledger.dirty()  # no file yet: nothing stored, nothing created
    assert not (folder / "c.ledger.sqlite3").exists()
    ledger.mark_pending(["t1", "t2"])
    assert ledger.hashes() == {"t1": ("", "", ""), "t2": ("", "", "")} and ledger.dirty()
    ledger.record(["t1", "t2"], [("c1", "r1", "m1"), ("c2", "r2", "m2")])
    ledger.mark_pending(["t2"], keep_record=True)  # a delete about to happen
    ledger.forget(["t2"])
    ledger.mark_published()
    reader = IndexLedger(folder / "c.ledger.sqlite3", "collection-a")  # another process reads read-only
    assert reader.hashes() == {"t1": ("c1", "r1", "m1")} and not reader.dirty()
    assert IndexLedger(folder / "c.ledger.sqlite3", "collection-b").hashes() == {}  # a re-created collection
    renewed = IndexLedger(folder / "c.ledger.sqlite3", "collection-b")
    renewed.record(["t9"], [("c9", "r9", "m9")])
    assert renewed.hashes() == {"t9": ("c9", "r9", "m9")} and reader.hashes() == {}


def test_chroma_and_ledger_failures_become_index_unavailable_naming_the_file(tmp_path, small):
    settings, _, _ = small
    broken = tmp_path / "broken-index"
    broken.mkdir()
    (broken / "chroma.sqlite3").write_bytes(b"not a database" * 100)
    with pytest.raises(IndexUnavailable, match="chroma.sqlite3"):
        VectorIndex.open(broken, settings.model)

    index = VectorIndex.open(settings.index_dir, settings.model, dimension=512, create=True)
    index.ledger.path.mkdir()  # something in the ledger's place: SQLite cannot open it
    with pytest.raises(IndexUnavailable, match="ledger.sqlite3"):
        index.relabel({"tmdb-movie-1": ("c", "r", "m")})
    with pytest.raises(IndexUnavailable, match="ledger.sqlite3"):
        index.stored_hashes()


def test_a_new_embedding_recipe_refreshes_the_stored_content_hashes_once(small):
    """After an upgrade that embeds titles differently, every title's stored content hash changes, so the next build embeds them again."""
    import sqlalchemy as sa

    from flixrec.catalog import RECIPE_STATE, titles_table

    _, catalog, titles = small
    with catalog.engine.begin() as conn:  # as an older FlixRec left it
        conn.execute(sa.update(titles_table).values(content_hash="written-by-recipe-1"))
    catalog.set_state(RECIPE_STATE, 1)
    assert catalog.refresh_content_hashes() == len(titles)
    assert {tid: pair[0] for tid, pair in catalog.hash_pairs().items()} == {t.title_id: t.content_hash for t in titles}
    assert catalog.refresh_content_hashes() == 0


def test_a_build_reads_only_the_fields_of_the_vector_and_the_metadata(small, use_embedder):
    """A build reads about half of each title's columns (BUILD_FIELDS): the texts it embeds and the metadata it
    stores are those of the whole titles. Leaving out a field the vector uses (here the tagline) changes them."""
    settings, catalog, titles = small
    ids = [t.title_id for t in titles]
    whole = catalog.find_titles(ids, with_people=False)
    lean = catalog.find_titles(ids, with_people=False, fields=BUILD_FIELDS)
    assert set(lean) == set(whole) and any(t.tagline for t in whole.values()) and any(t.keywords for t in whole.values())
    assert all(whole[i].tmdb_id for i in ids) and all(lean[i].tmdb_id is None for i in ids)  # others are not read
    assert embedding_texts([lean[i] for i in ids], use_embedder) == embedding_texts([whole[i] for i in ids], use_embedder)
    assert [title_metadata(lean[i]) for i in ids] == [title_metadata(whole[i]) for i in ids]
    np.testing.assert_array_equal(embed_titles([lean[i] for i in ids[:8]], use_embedder),
                                  embed_titles([whole[i] for i in ids[:8]], use_embedder))
    fewer = catalog.find_titles(ids, with_people=False, fields=[f for f in BUILD_FIELDS if f != "tagline"])
    assert embedding_texts([fewer[i] for i in ids], use_embedder) != embedding_texts([whole[i] for i in ids], use_embedder)
