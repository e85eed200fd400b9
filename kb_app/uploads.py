"""Files added through the app: password check, content sniffing, size cap, safe names, atomic save."""

from __future__ import annotations

import hmac
import io
import os
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from kb_app.config import Settings
from kb_app.documents import decode_text
from kb_app.errors import CorpusError

_UNSAFE = re.compile(r"[^\w .,()+\-]+", re.UNICODE)
_MAX_NAME = 120


@dataclass(frozen=True)
class SavedUpload:
    """A file written to the corpus folder."""

    name: str
    path: Path
    replaced: bool


def uploads_enabled(settings: Settings) -> bool:
    return bool(settings.admin_password)


def password_ok(settings: Settings, attempt: str) -> bool:
    """Constant-time check of the admin password; always False when none is set."""
    secret = settings.admin_password
    return bool(secret) and hmac.compare_digest(secret.encode(), attempt.encode())


def safe_filename(name: str) -> str:
    """A plain file name for the corpus folder: no folders, no NUL, no hidden or odd characters.

    Raises:
        CorpusError: nothing usable is left of the name.
    """
    name = unicodedata.normalize("NFC", name.replace("\x00", "")).replace("\\", "/")
    name = name.rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    stem = stem[: _MAX_NAME - len(suffix) - 1].strip(" .")
    if not stem:
        raise CorpusError("Filnamnet går inte att använda. Byt namn på filen och försök igen.")
    return f"{stem}.{suffix.lower()}" if suffix else stem


def sniff_type(data: bytes) -> str | None:
    """The file type by content: ".pdf", ".docx", ".txt" (any text) or None."""
    if data[:1024].lstrip().startswith(b"%PDF-"):
        return ".pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if "word/document.xml" in archive.namelist():
                    return ".docx"
        except zipfile.BadZipFile:
            return None
        return None
    try:
        text = decode_text(data, "upload")
    except CorpusError:
        return None
    printable = sum(ch.isprintable() or ch in "\n\r\t" for ch in text[:20000])
    return ".txt" if text.strip() and printable >= 0.95 * min(len(text), 20000) else None


def save_upload(settings: Settings, name: str, data: bytes) -> SavedUpload:
    """Check an uploaded file and write it into the corpus folder.

    The name is sanitised, the type is decided by the content (a Markdown or text name is kept
    for text; a PDF or Word file gets its proper extension), the size is capped by
    ``KB_MAX_FILE_MB``, and the file appears in the folder atomically.

    Raises:
        CorpusError: empty, too large, or not a PDF, Word (.docx), Markdown or text file, or it
            cannot be written.
    """
    filename = safe_filename(name)
    check_size(settings, filename, data)
    kind = sniff_type(data)
    if kind is None:
        raise CorpusError(
            f"{filename}: innehållet är inte PDF, Word (.docx), Markdown eller text. "
            "Äldre Word-filer (.doc) behöver sparas om som .docx."
        )
    filename = name_for_type(filename, kind)
    corpus = settings.corpus_dir
    corpus.mkdir(parents=True, exist_ok=True)
    target = corpus / filename
    if target.resolve().parent != corpus.resolve():
        raise CorpusError(f"{filename}: filnamnet pekar utanför dokumentmappen.")
    replaced = target.exists()
    write_atomically(target, data)
    return SavedUpload(filename, target, replaced)


def check_size(settings: Settings, filename: str, data: bytes) -> None:
    """Raise ``CorpusError`` for an empty file or one over ``KB_MAX_FILE_MB``."""
    if not data:
        raise CorpusError(f"{filename}: filen är tom.")
    if len(data) > int(settings.max_file_mb * 1e6):
        raise CorpusError(
            f"{filename}: filen är {len(data) / 1e6:.1f} MB, "
            f"större än gränsen {settings.max_file_mb:g} MB (KB_MAX_FILE_MB)."
        )


def name_for_type(filename: str, kind: str) -> str:
    """The name with the extension its content calls for (text keeps .md, .markdown or .txt)."""
    stem, _, suffix = filename.rpartition(".")
    suffix = "." + suffix if stem else ""
    stem = stem or filename
    if kind == ".txt":
        return filename if suffix in (".md", ".markdown", ".txt") else f"{stem}.txt"
    return filename if suffix == kind else f"{stem}{kind}"


def write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` beside ``target``, flush it, and rename it into place.

    Raises:
        CorpusError: the file cannot be written (full disk, read-only folder); nothing is left behind.
    """
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise CorpusError(f"{target.name}: filen kunde inte sparas ({exc.strerror}).") from exc
