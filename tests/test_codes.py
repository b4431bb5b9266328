"""The projection's int8 codes (flixrec.codes) and the projected plans reading them (flixrec.engine)."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flixrec import codes as codes_module
from flixrec import rescore
from flixrec import code_kernels
from flixrec.code_kernels import BLOCK
from flixrec.codes import SCAN_SPLIT_ROWS, ProjectedCodes, rows_at_least, strided_sample
from flixrec.engine import Projection, VectorSearch
from flixrec.plan_cost import scan_plan_cost
from flixrec.rescore import SPARSE_SHARE, SPLIT_BYTES, dot_rows, passing_rows


def _block(rows: int, width: int, seed: int) -> np.ndarray:
    """Columns of falling spread, like principal components, one of them all zeros."""
    rng = np.random.default_rng(seed)
    block = (rng.standard_normal((rows, width)) * np.linspace(2.0, 0.05, width)).astype(np.float32)
    block[:, width // 2] = 0.0
    return block


@pytest.mark.parametrize("rows", [1, BLOCK - 1, BLOCK, 300 * BLOCK + 17])
def test_codes_hold_each_value_within_half_a_step_and_the_scan_matches_them(rows):
    head, tail = _block(rows, 16, 1), _block(rows, 8, 2)
    codes = ProjectedCodes.of(head, tail)
    assert codes.head_blocks.shape == (-(-rows // BLOCK), 8, BLOCK, 2) and codes.head_blocks.dtype == np.int8
    assert codes.tail.shape == (rows, 8) and codes.tail.dtype == np.int8
    head_values, tail_values = codes.dequantized()
    assert np.all(np.abs(head_values - head) <= codes.head_scale / 2 + 1e-6)
    assert np.all(np.abs(tail_values - tail) <= codes.tail_scale / 2 + 1e-6)
    assert np.all(np.isfinite(codes.head_scale)) and np.all(codes.head_scale > 0)  # the zero column too

    query = np.random.default_rng(3).standard_normal(24).astype(np.float32)
    out = np.full(len(codes.head_blocks) * BLOCK, np.nan, dtype=np.float32)
    packed = codes.head_query(query[:16])
    codes.scan_head(packed, out, 0, len(codes.head_blocks))
    # the query is rounded to int16: each code's product is off by at most half a step of the query's scale
    rounding = 0.5 * packed[1] * np.abs(codes.head.astype(np.float32)).sum(axis=1)
    assert np.all(np.abs(out[:rows] - head_values @ query[:16]) <= rounding + 1e-5)
    assert np.all(out[rows:] == 0.0)  # the padding rows score zero, and callers cut them off
    some = np.array([rows - 1, 0, rows // 2], dtype=np.int64)
    np.testing.assert_allclose(codes.tail_scores(some, query[16:]), tail_values[some] @ query[16:], rtol=1e-4, atol=1e-4)


def test_a_split_scan_covers_every_block_once():
    codes = ProjectedCodes.of(_block(5 * BLOCK + 3, 16, 4), _block(5 * BLOCK + 3, 8, 5))
    query = codes.head_query(np.ones(16, dtype=np.float32))
    whole = np.zeros(6 * BLOCK, dtype=np.float32)
    codes.scan_head(query, whole, 0, 6)
    parts = np.zeros(6 * BLOCK, dtype=np.float32)
    codes.scan_head(query, parts, 0, 2)
    codes.scan_head(query, parts, 2, 6)
    assert np.array_equal(whole, parts)


@pytest.mark.parametrize("width", [1, 7, 64])
def test_every_scan_kernel_gives_the_exact_integer_sums(width):
    """The vector kernels (the CPU's 16-bit multiply-add) and the plain loop give the same scores bit for bit:
    the integer sums of codes times the int16 query, scaled once. An odd width scans a zero column too."""
    rows = 97 * BLOCK + 5
    codes = ProjectedCodes.of(_block(rows, width, 9), _block(rows, 4, 10))
    query = np.random.default_rng(11).standard_normal(width).astype(np.float32) * 40.0
    values, scale = codes.head_query(query)
    assert values.dtype == np.int16 and len(values) == 2 * codes.head_blocks.shape[1]
    padded = np.zeros((rows, len(values)), dtype=np.int64)
    padded[:, :width] = codes.head
    expected = (padded @ values.astype(np.int64)).astype(np.float32) * scale
    kernels = {bits: code_kernels.SCANS[bits] for bits in (0, 256, 512) if bits <= code_kernels.vector_bits()}
    for bits, scan in kernels.items():
        out = np.full(len(codes.head_blocks) * BLOCK, np.nan, dtype=np.float32)
        scan(codes.head_blocks, values, scale, out, 0, len(codes.head_blocks))
        assert np.array_equal(out[:rows], expected), bits
        assert np.all(out[rows:] == 0.0)
    # rounding the query to int16 moves each product by at most half a step: ~1/65,000 of the largest one
    exact = codes.head.astype(np.float64) @ (query.astype(np.float64) * codes.head_scale)
    rounding = 0.5 * scale * np.abs(codes.head.astype(np.float64)).sum(axis=1)
    assert np.all(np.abs(expected - exact) <= rounding + 1e-5 * np.abs(exact))
    assert rounding.max() <= 127 * width * np.abs(query * codes.head_scale).max() / 65_000


def test_the_query_packing_never_overflows_and_an_empty_query_scores_zero():
    values, scale = code_kernels.pack_query(np.zeros(5), 3)
    assert scale == 0.0 and not values.any()
    values, scale = code_kernels.pack_query(np.full(300, -7.5), 150)
    assert 127 * np.abs(values.astype(np.int64)).sum() < 2**31  # the largest sum the codes can reach
    assert values.min() < 0 and scale * abs(int(values[0])) == pytest.approx(7.5, rel=1e-3)


def test_the_projected_plans_rank_exactly_under_wide_and_narrow_filters(monkeypatch):
    """Codes choose the shortlist; the scores returned are the float32 vectors' exact ones."""
    rng = np.random.default_rng(6)
    centres = rng.standard_normal((40, 32))
    rows = centres[rng.integers(0, 40, 12_000)] + 0.6 * rng.standard_normal((12_000, 32))
    matrix = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    projection = Projection.fit(matrix, dims=16)
    assert projection.shortlist  # calibrated on the codes' ranks
    monkeypatch.setattr(codes_module, "SCAN_SPLIT_ROWS", 4_000)  # two threads share the scan even at this size
    search = VectorSearch(matrix, np.arange(len(matrix)), projection, shortlist=200, mode="projected")
    found = []
    for share, method in ((1.0, "projected-full"), (0.5, "projected-full"), (0.03, "projected-gather")):
        keep = None if share == 1.0 else rng.random(len(matrix)) < share
        for row in rng.choice(len(matrix), 20, replace=False):
            got, scores = search.top_k(matrix[row], 10, keep, item=True)
            assert search.last_plan is not None and search.last_plan.method == method
            exact = matrix @ matrix[row]
            if keep is not None:
                assert keep[got].all()
                exact[~keep] = -np.inf
            np.testing.assert_allclose(scores, exact[got], rtol=1e-5, atol=1e-6)
            assert np.all(np.diff(scores) <= 0)
            found.append(len(set(got.tolist()) & set(np.argsort(-exact)[:10].tolist())) / 10)
    assert np.mean(found) >= 0.99


def test_a_snapshot_reads_the_codes_back_and_keeps_its_float_blocks_out_of_memory(tmp_path):
    """The float32 blocks are memory-mapped (queries read the codes); a head whose rows do not match the
    index is refused, as the compiled stages read rows by number unchecked."""
    import json
    from types import SimpleNamespace

    from flixrec.index import IndexSnapshot, read_snapshot, write_snapshot
    from flixrec.index.store import file_checksum, snapshot_dir

    rng = np.random.default_rng(8)
    rows = rng.standard_normal((3000, 32)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    index = SimpleNamespace(location=SimpleNamespace(snapshot_root=tmp_path), collection=SimpleNamespace(name="titles"),
                            model_name="test")
    snapshot = IndexSnapshot.from_records([([f"t-{i:05d}" for i in range(3000)], rows, [{}] * 3000)])
    snapshot.projection = dataclasses.replace(Projection.fit(rows, dims=16), scan_ms=3.25)
    write_snapshot(index, "one", snapshot)
    again = read_snapshot(index, "one")
    assert again is not None and isinstance(again.projection.head, np.memmap)
    assert again.projection.scan_ms == 3.25  # the measured first stage is kept with the build
    assert isinstance(again.projection.tail, np.memmap)
    for name in ("head_blocks", "head", "tail", "head_scale", "tail_scale"):
        assert np.array_equal(getattr(again.projection.codes, name), getattr(snapshot.projection.codes, name))

    directory = snapshot_dir(index, "one")
    np.save(directory / "head.npy", np.asarray(snapshot.projection.head)[:-1])  # one row short, files re-recorded
    meta = json.loads((directory / "meta.json").read_text())
    meta["files"]["head.npy"] = {"bytes": (directory / "head.npy").stat().st_size,
                                 "blake2b": file_checksum(directory / "head.npy")}
    (directory / "meta.json").write_text(json.dumps(meta))
    assert read_snapshot(index, "one") is None


def test_the_first_stage_is_measured_on_large_indexes_and_the_planner_weighs_it(monkeypatch):
    """Past the CPU caches the scan of every row costs more than the model says: a large index measures it
    at build time, and the plans that scan every row are costed with it (the gathering plans are not)."""
    rows = _block(6000, 24, 4)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    small = Projection.fit(rows, dims=16)
    assert small.scan_ms == 0.0  # in the caches: the model's estimate
    monkeypatch.setattr("flixrec.engine.SCAN_SPLIT_ROWS", 1000)  # as if large
    large = Projection.fit(rows, dims=16)
    assert large.scan_ms > 0.0 and large.measure_scan(repeats=3) > 0.0
    sizes = large.sizes(True, 20)
    slow = dataclasses.replace(large, scan_ms=50.0)
    assert scan_plan_cost(slow, 6000, 24, 6000, *sizes) - scan_plan_cost(large, 6000, 24, 6000, *sizes) == \
        pytest.approx(50.0 - large.scan_ms)
    assert scan_plan_cost(slow, 6000, 24, 600, *sizes) == scan_plan_cost(large, 6000, 24, 600, *sizes)  # a gather


def test_large_gathers_and_selections_shared_by_two_threads_give_the_same_answers():
    """A gather past SPLIT_BYTES and a selection over SCAN_SPLIT_ROWS scores are split between threads: the
    answers are those of one pass (numpy's), in the same order."""
    rng = np.random.default_rng(5)
    matrix = rng.standard_normal((60_000, 64)).astype(np.float32)
    rows = np.sort(rng.choice(len(matrix), 20_000, replace=False))
    assert len(rows) * 64 * 4 >= SPLIT_BYTES
    query = rng.standard_normal(64).astype(np.float32)
    np.testing.assert_allclose(dot_rows(matrix, rows, query), matrix[rows] @ query, rtol=1e-4, atol=1e-4)
    values = rng.standard_normal(SCAN_SPLIT_ROWS + 12_345).astype(np.float32)
    keep = rng.random(len(values)) < 0.3
    for threshold, mask in ((1.5, keep), (-0.2, None)):
        expected = np.flatnonzero((values >= threshold) & (True if mask is None else mask))
        np.testing.assert_array_equal(rows_at_least(values, threshold, mask), expected)
        sample = values[::16] if mask is None else values[::16][mask[::16]]
        assert strided_sample(values, 16, mask).tolist() == sample.tolist()


@given(st.integers(0, 700), st.sampled_from([0.0, 0.002, 1 / SPARSE_SHARE, 0.1, 1.0]), st.integers(0, 2**32 - 1),
       st.integers(-2, 2))
@settings(max_examples=200, deadline=None)
def test_passing_rows_are_flatnonzeros_rows_at_any_length_share_and_count(n, share, seed, miscount):
    """Narrow masks are read a word at a time: the rows are numpy's, whatever the length (a tail shorter
    than a word), the share, and even when the caller's count is off."""
    keep = np.random.default_rng(seed).random(n) < share
    expected = np.flatnonzero(keep)
    assert passing_rows(keep, max(0, len(expected) + miscount)).tolist() == expected.tolist()
    keep.flags.writeable = False  # a kept mask is read-only
    assert passing_rows(keep, len(expected)).tolist() == expected.tolist()
    assert passing_rows(keep[::-1], len(expected)).tolist() == np.flatnonzero(keep[::-1]).tolist()


def test_a_busy_helper_thread_leaves_both_halves_to_the_calling_thread():
    """Under load the helper is busy with another query's half: a split then runs here, never waits in its queue."""
    here = threading.get_ident()
    assert rescore._helper_free.acquire(blocking=False)  # another query holds the helper
    try:
        assert rescore.in_halves(threading.get_ident, threading.get_ident) == (here, here)
    finally:
        rescore._helper_free.release()
    first, second = rescore.in_halves(threading.get_ident, threading.get_ident)
    assert first == here and (second != here) == (rescore.SCAN_THREADS > 1)


def test_a_forked_child_starts_its_own_helper_thread():
    """The API forks its workers after loading: a split in a child must not wait on the parent's helper thread."""
    rescore.in_halves(threading.get_ident, threading.get_ident)  # the parent's helper exists
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        signal.alarm(30)  # a child waiting on a helper that is not there dies: the test fails, never hangs
        try:
            first, second = rescore.in_halves(threading.get_ident, threading.get_ident)
            os.write(writer, b"ok" if first == threading.get_ident() else b"no")
        finally:
            os._exit(0)
    os.close(writer)
    _, status = os.waitpid(child, 0)
    assert status == 0 and os.read(reader, 2) == b"ok"
