"""Settings: defaults, validation messages that say how to fix, the key never in a repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from flixrec.config import Settings
from flixrec.errors import ConfigError


def test_defaults_live_under_home(tmp_path: Path):
    settings = Settings.from_mapping({"FLIXREC_HOME": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'flixrec.sqlite3'}"
    assert settings.index_dir == tmp_path / "chroma"
    assert settings.model == "use-multilingual"
    assert settings.trakt_base_url == "https://api.trakt.tv"


def test_earlier_mapping_wins_and_blank_values_fall_through(tmp_path: Path):
    env = {"FLIXREC_HOME": str(tmp_path), "FLIXREC_MODEL": ""}
    secrets = {"FLIXREC_MODEL": "all-MiniLM-L6-v2", "TRAKT_CLIENT_ID": "from-secrets"}
    settings = Settings.from_mapping(env, secrets)
    assert settings.model == "all-MiniLM-L6-v2"
    assert settings.trakt_client_id == "from-secrets"


@pytest.mark.parametrize(
    ("key", "value", "hint"),
    [
        ("TRAKT_REQUESTS_PER_5MIN", "lots", "TRAKT_REQUESTS_PER_5MIN"),
        ("TRAKT_REQUESTS_PER_5MIN", "0", "positive whole number"),
        ("FLIXREC_DATABASE_URL", "flixrec.db", "sqlite:///"),
        ("TRAKT_BASE_URL", "api.trakt.tv", "http://"),
    ],
)
def test_invalid_settings_say_which_key_and_how_to_fix(key: str, value: str, hint: str):
    with pytest.raises(ConfigError, match=hint):
        Settings.from_mapping({key: value})


def test_trakt_key_is_never_in_repr_and_missing_key_says_where_to_put_it():
    settings = Settings.from_mapping({"TRAKT_CLIENT_ID": "s3cr3t-key-value"})
    assert "s3cr3t" not in repr(settings)
    assert settings.require_trakt_key() == "s3cr3t-key-value"
    with pytest.raises(ConfigError, match="TRAKT_CLIENT_ID"):
        Settings.from_mapping({}).require_trakt_key()


def test_a_chroma_server_is_configured_by_url_and_its_token_is_never_shown(tmp_path):
    from flixrec.index import IndexLocation

    settings = Settings.from_mapping({"FLIXREC_HOME": str(tmp_path), "FLIXREC_CHROMA_URL": "http://chroma:8000/",
                                      "FLIXREC_CHROMA_TOKEN": "s3cret-token"})
    location = IndexLocation.from_settings(settings)
    assert location.remote and location.server.url == "http://chroma:8000"
    assert location.server.headers() == {"Authorization": "Bearer s3cret-token"}
    assert location.database_url == settings.database_url  # the ledger and stamp live with the catalogue
    assert "s3cret" not in repr(settings) and "s3cret" not in repr(location) and "s3cret" not in location.describe()
    header = Settings.from_mapping({"FLIXREC_CHROMA_URL": "https://u:pw@chroma", "FLIXREC_CHROMA_TOKEN": "t",
                                    "FLIXREC_CHROMA_TOKEN_HEADER": "X-Chroma-Token"})
    assert IndexLocation.from_settings(header).server.headers() == {"X-Chroma-Token": "t"}
    assert "pw" not in IndexLocation.from_settings(header).describe()
    assert not IndexLocation.from_settings(Settings.from_mapping({"FLIXREC_HOME": str(tmp_path)})).remote
    with pytest.raises(ConfigError, match="FLIXREC_CHROMA_URL='chroma:8000' must start with http"):
        Settings.from_mapping({"FLIXREC_CHROMA_URL": "chroma:8000"})
    with pytest.raises(ConfigError, match="FLIXREC_CHROMA_TOKEN_HEADER"):
        Settings.from_mapping({"FLIXREC_CHROMA_URL": "http://c", "FLIXREC_CHROMA_TOKEN_HEADER": "Bad Header:"})


def test_an_unreachable_chroma_server_is_one_clear_error(tmp_path):
    import socket

    from flixrec.errors import IndexUnavailable
    from flixrec.index import IndexLocation, VectorIndex

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings.from_mapping({"FLIXREC_HOME": str(tmp_path), "FLIXREC_CHROMA_URL": f"http://127.0.0.1:{port}"})
    with pytest.raises(IndexUnavailable, match=rf"Chroma server http://127.0.0.1:{port}.*chroma run"):
        VectorIndex.open(IndexLocation.from_settings(settings), settings.model)


def test_the_agreement_weight_is_a_setting_with_its_default_and_validated():
    assert Settings.from_mapping({}).ranking.agreement == 0.2
    assert Settings.from_mapping({"FLIXREC_WEIGHT_AGREEMENT": "0"}).ranking.agreement == 0.0
    assert Settings.from_mapping({"FLIXREC_WEIGHT_AGREEMENT": "0.15"}).ranking.agreement == 0.15
    for bad in ("11", "-0.1", "lots"):
        with pytest.raises(ConfigError, match="FLIXREC_WEIGHT_AGREEMENT=.* is not a number from 0 to 10"):
            Settings.from_mapping({"FLIXREC_WEIGHT_AGREEMENT": bad})
