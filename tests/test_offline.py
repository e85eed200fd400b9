"""Nothing leaves the machine: no telemetry, and (under `make test`) no network at all."""

from __future__ import annotations

import os
import socket
import tomllib

import pytest

from kb_app.config import Settings
from kb_app.store import VectorStore

from .conftest import REPO


def test_the_suite_really_runs_offline() -> None:
    if os.environ.get("KB_EXPECT_OFFLINE") != "1":
        pytest.skip("körs utan nätverk bara under `make test` (unshare -n)")
    with pytest.raises(OSError):
        socket.create_connection(("pypi.org", 443), timeout=3)
    with pytest.raises(OSError):
        socket.create_connection(("1.1.1.1", 53), timeout=3)


def test_chroma_telemetry_is_off(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = VectorStore(Settings(index_dir=tmp_path / "index"))
    assert store._client.get_settings().anonymized_telemetry is False


def test_streamlit_usage_statistics_are_off() -> None:
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["browser"]["gatherUsageStats"] is False
    assert "--browser.gatherUsageStats false" in (REPO / "Makefile").read_text()
