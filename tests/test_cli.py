"""The CLIs as a user runs them: real subprocesses over a real built home."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flixrec.__main__ import build_parser as flixrec_parser
from ingest.__main__ import build_parser as ingest_parser

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], settings, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("FLIXREC_", "TRAKT_"))}
    environ.update(FLIXREC_HOME=str(settings.home), FLIXREC_DOWNLOADS=str(settings.downloads_dir),
                   OPENBLAS_NUM_THREADS="1", **env)
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300)


def test_check_reports_counts_and_agreement(demo_settings):
    result = run(["ingest", "check"], demo_settings)
    assert result.returncode == 0, result.stderr
    # 4803 TMDB movies + 8658 anime records, 16 of them one work with a TMDB movie (one title per work)
    assert re.search(r"catalogue: 13445 titles \(\d+ movies, \d+ shows\)", result.stdout)
    assert "13445 vectors in titles-use-multilingual" in result.stdout and "agree:     yes" in result.stdout


def test_similar_by_name_with_a_typo_and_filters(demo_settings):
    result = run(["flixrec", "similar", "Intersteller", "-k", "5", "--year-min", "2000", "--type", "movie"], demo_settings)
    assert result.returncode == 0, result.stderr
    assert "did you mean Interstellar (2014)" in result.stdout
    ranks = re.findall(r"^\s+(\d)\. (\d{1,3}%) .*\[movie, (\d{4})", result.stdout, flags=re.M)
    assert [r[0] for r in ranks[:5]] == ["1", "2", "3", "4", "5"]
    assert all(int(year) >= 2000 for _, _, year in ranks[:5])


def test_a_shared_name_asks_which_one(demo_settings):
    result = run(["flixrec", "similar", "Batman"], demo_settings)
    assert result.returncode == 1
    assert "2 titles are called 'Batman'" in result.stdout and "tmdb-movie-2661" in result.stdout


def test_free_text_query_in_german(demo_settings):
    result = run(["flixrec", "text", "Ein Dieb, der in das Unterbewusstsein seiner Opfer eindringt, um Firmengeheimnisse zu stehlen, soll einem Menschen eine fremde Idee einpflanzen.", "-k", "3"], demo_settings)
    assert result.returncode == 0 and "Inception" in result.stdout


def test_errors_are_one_line_with_exit_code_2(tmp_path, demo_settings):
    empty = type(demo_settings)(**{**demo_settings.__dict__, "home": tmp_path})
    result = run(["flixrec", "similar", "Batman"], empty)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "make run" in result.stderr and "Traceback" not in result.stderr
    bad = run(["ingest", "check"], demo_settings, TRAKT_REQUESTS_PER_5MIN="many")
    assert bad.returncode == 2 and "TRAKT_REQUESTS_PER_5MIN='many'" in bad.stderr


@pytest.mark.parametrize(("prog", "parser"), [("python -m ingest", ingest_parser), ("python -m flixrec", flixrec_parser)])
def test_every_cli_command_is_documented_in_the_readme(prog: str, parser):
    readme = (ROOT / "README.md").read_text()
    subcommands = next(a for a in parser()._actions if a.__class__.__name__ == "_SubParsersAction").choices
    missing = [name for name in subcommands if f"{prog} {name}" not in readme]
    assert not missing, f"README.md does not document: {missing}"


def test_filters_use_the_shared_vocabulary_and_a_dropped_value_is_an_error(demo_settings):
    result = run(["flixrec", "similar", "Interstellar", "-k", "5", "--year", "2000-", "--genre", "science fiction",
                  "--type", "movie"], demo_settings)
    assert result.returncode == 0, result.stderr
    years = re.findall(r"^\s+\d\. \d{1,3}% .*\[movie, (\d{4})", result.stdout, flags=re.M)
    assert len(years) == 5 and all(int(y) >= 2000 for y in years)
    bad = run(["flixrec", "similar", "Interstellar", "--lang", "zz"], demo_settings)
    assert bad.returncode == 2 and "lang=zz" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow  # three CLI processes and a build
def test_repair_moves_a_garbage_ledger_aside_and_check_then_agrees(tmp_path, use_embedder):
    """A damaged ledger: `check` says so and names the fix, `repair` moves it aside and builds, `check` agrees."""
    from conftest import build_home
    from small_catalogue import SMALL_TITLES

    settings = build_home(tmp_path, "use-multilingual", use_embedder, SMALL_TITLES[:8])
    [ledger] = list(settings.index_dir.glob("*.ledger.sqlite3"))
    ledger.write_bytes(b"this is not a database" * 100)
    check = run(["ingest", "check"], settings)
    assert check.returncode == 2 and check.stderr.startswith("error: ") and "Traceback" not in check.stderr
    assert "ledger.sqlite3" in check.stderr and "python -m ingest repair" in check.stderr
    repair = run(["ingest", "-q", "repair", "--workers", "1"], settings)
    assert repair.returncode == 0, repair.stderr
    assert "moved aside:" in repair.stdout and "Traceback" not in repair.stderr
    assert list(settings.index_dir.glob("*.ledger.sqlite3.damaged-*"))
    again = run(["ingest", "check"], settings)
    assert again.returncode == 0 and "agree:     yes" in again.stdout
