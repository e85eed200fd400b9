"""Read corpus files into ``Document``s: Markdown, text, PDF (kb_app.pdf) and Word (kb_app.word).

Catalog facts (title, kind, date, reference) come from ``catalog.toml`` in the corpus folder;
files it does not name are recognised from their file name ("Bilaga 2 ….pdf" is appendix 2)
or their first heading.
"""

from __future__ import annotations

import errno
import hashlib
import re
import tomllib
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from kb_app.blocks import BlockBuilder, clean_text
from kb_app.errors import CorpusError
from kb_app.models import KIND_APPENDIX, KIND_OTHER, KIND_REPORT, Document, DocumentInfo

CATALOG_FILE = "catalog.toml"
SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt", ".pdf", ".docx")
PARSER_VERSION = "3"
# a reader's own version, so that a change to one format re-reads only files of that format
# .pdf 1: contents pages without dot leaders, wrapped numbered headings; 2: headings nest (subtitles,
# sections under numbered headings, "Bilaga 1" above them); 3 and 4: narrower rules after two reviews;
# 5: numbered list items are paragraphs of their own, an amendment note wrapped over two lines ends one;
# 6: only after a finished sentence or a colon, and an item that goes on a list is never a heading
FORMAT_VERSIONS = {".pdf": "6"}
_KINDS = (KIND_REPORT, KIND_APPENDIX, KIND_OTHER)
_APPENDIX_NAME = re.compile(r"^\s*bilaga[\s_\-]*(\d+)\b[\s_\-:.]*(.*)$", re.IGNORECASE)


def load_catalog(corpus_dir: Path) -> dict[str, dict[str, str]]:
    """Read ``catalog.toml``: a table per file name with title, kind, date and reference.

    Raises:
        CorpusError: the catalog is not valid TOML or names an unknown kind.
    """
    path = corpus_dir / CATALOG_FILE
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"Katalogen {path} kan inte läsas: {exc}. Rätta filen och försök igen.") from exc
    for name, entry in data.items():
        kind = entry.get("kind", KIND_OTHER)
        if kind not in _KINDS:
            raise CorpusError(f"Katalogen {path}: okänd typ {kind!r} för {name}. Tillåtna typer: {', '.join(_KINDS)}.")
    return {_nfc(name): {k: str(v) for k, v in entry.items()} for name, entry in data.items()}


def _nfc(name: str) -> str:
    """File names compared in one Unicode form: macOS and some zip tools write "å" as "a" + ring (NFD)."""
    return unicodedata.normalize("NFC", name)


def catalog_entry(doc_id: str, catalog: dict[str, dict[str, str]]) -> dict[str, str]:
    """The catalog table for a file, by its path or its bare name (in either Unicode form)."""
    return catalog.get(_nfc(doc_id)) or catalog.get(_nfc(Path(doc_id).name)) or {}


def corpus_files(corpus_dir: Path) -> Iterator[Path]:
    """Supported files under ``corpus_dir`` in a stable order, hidden files skipped."""
    yield from scan_corpus(corpus_dir)[0]


# Document formats people drop in that we do not read, with what to do instead.
_UNSUPPORTED = {
    ".doc": "äldre Word-format (.doc) stöds inte; spara filen som .docx",
    ".rtf": "RTF stöds inte; spara filen som .docx eller PDF",
    ".odt": "OpenDocument stöds inte; spara filen som .docx eller PDF",
    ".ppt": "presentationer stöds inte; spara som PDF",
    ".pptx": "presentationer stöds inte; spara som PDF",
    ".xls": "kalkylblad stöds inte; spara som PDF",
    ".xlsx": "kalkylblad stöds inte; spara som PDF",
}


def scan_corpus(corpus_dir: Path) -> tuple[list[Path], dict[str, str]]:
    """The files to index, and {name: message} for entries that will not be read and why.

    Hidden entries are skipped. Symbolic links to files are followed; a link that loops, dangles
    or points to a folder is reported (folders behind links are not followed, so no walk can loop).
    Special files (pipes, sockets, devices) are reported and never opened.
    """
    files: list[Path] = []
    problems: dict[str, str] = {}
    for path in sorted(corpus_dir.rglob("*")):
        rel = path.relative_to(corpus_dir)
        if any(part.startswith(".") for part in rel.parts):
            continue
        name = rel.as_posix()
        suffix = path.suffix.lower()
        if path.is_symlink():
            try:
                target = path.resolve(strict=True)
            except RuntimeError:
                problems[name] = f"{name}: den symboliska länken pekar på sig själv (en slinga) och hoppas över."
                continue
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    problems[name] = f"{name}: den symboliska länken ingår i en slinga och hoppas över."
                else:
                    problems[name] = f"{name}: den symboliska länken pekar på något som inte finns."
                continue
            if target.is_dir():
                loop = target == corpus_dir.resolve() or target in corpus_dir.resolve().parents
                problems[name] = (
                    f"{name}: länken pekar tillbaka på en mapp ovanför sig själv (en slinga) och följs inte."
                    if loop
                    else f"{name}: länkade mappar följs inte; lägg filerna direkt i dokumentmappen."
                )
                continue
        if suffix in SUPPORTED_SUFFIXES:
            if path.is_file():
                files.append(path)
            elif not path.is_dir():
                problems[name] = f"{name}: är ingen vanlig fil (till exempel en pipe eller enhet) och läses inte."
        elif suffix in _UNSUPPORTED and path.is_file():
            problems[name] = f"{name}: {_UNSUPPORTED[suffix]}."
    return files, problems


def document_info(doc_id: str, catalog: dict[str, dict[str, str]], first_heading: str = "") -> DocumentInfo:
    """Catalog facts for ``doc_id``; unnamed files are recognised from name or first heading."""
    entry = catalog_entry(doc_id, catalog)
    stem = _nfc(Path(doc_id).stem).replace("_", " ").strip()
    match = _APPENDIX_NAME.match(stem) or _APPENDIX_NAME.match(first_heading)
    appendix = int(match.group(1)) if match else None
    if entry.get("appendix"):
        try:
            appendix = int(entry["appendix"])
        except ValueError as exc:
            raise CorpusError(
                f"Katalogen: appendix för {doc_id} ska vara ett heltal, inte {entry['appendix']!r}."
            ) from exc
    kind = entry.get("kind") or (KIND_APPENDIX if match else KIND_OTHER)
    title = entry.get("title") or stem
    if kind == KIND_APPENDIX and appendix is not None and not title.lower().startswith("bilaga"):
        title = f"Bilaga {appendix} {title}".strip()
    return DocumentInfo(
        doc_id=doc_id,
        title=" ".join(title.split()),
        kind=kind,
        date=entry.get("date", ""),
        reference=entry.get("reference", ""),
        appendix=appendix,
    )


def read_document(path: Path, corpus_dir: Path, catalog: dict[str, dict[str, str]], *, max_bytes: int) -> Document:
    """Parse one file into a ``Document``.

    Raises:
        CorpusError: the file is empty, too large, unsupported, corrupt or has no text.
    """
    doc_id = path.relative_to(corpus_dir).as_posix()
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise CorpusError(
                f"{doc_id}: filen är {size / 1e6:.1f} MB, större än gränsen {max_bytes / 1e6:.0f} MB "
                "(KB_MAX_FILE_MB). Dela upp den eller höj gränsen."
            )
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{doc_id}: filen kan inte läsas ({_os_reason(exc)}).") from exc
    if not data.strip():
        raise CorpusError(f"{doc_id}: filen är tom.")
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        from kb_app.pdf import parse_pdf

        builder, text, pages = parse_pdf(data, doc_id)
    elif suffix == ".docx":
        from kb_app.word import parse_docx

        builder, text, pages = parse_docx(data, doc_id), None, None
    elif suffix in (".md", ".markdown", ".txt"):
        text, pages = decode_text(data, doc_id), None
        builder = parse_markdown(text)
    else:
        raise CorpusError(f"{doc_id}: filtypen {suffix} stöds inte ({', '.join(SUPPORTED_SUFFIXES)}).")
    blocks = builder.blocks()
    if not any(b.kind != "heading" for b in blocks):
        raise CorpusError(f"{doc_id}: dokumentet innehåller ingen läsbar text.")
    first_heading = next((b.text for b in blocks if b.kind == "heading"), "")
    info = document_info(doc_id, catalog, first_heading)
    return Document(
        info=info,
        path=str(path),
        text=text if text is not None else builder.assembled_text(),
        blocks=blocks,
        content_hash=fingerprint(data, doc_id, catalog),
        pages=pages,
    )


def _os_reason(exc: OSError) -> str:
    """A Swedish reason for a failed read."""
    reasons = {
        errno.EACCES: "behörighet saknas; kontrollera filens rättigheter",
        errno.EPERM: "behörighet saknas; kontrollera filens rättigheter",
        errno.ENOENT: "filen försvann under läsningen",
        errno.EISDIR: "det är en mapp",
        errno.EIO: "läsfel på disken",
    }
    return reasons.get(exc.errno or 0, exc.strerror or str(exc))


def fingerprint(data: bytes, doc_id: str, catalog: dict[str, dict[str, str]]) -> str:
    """Content hash of a file together with its catalog entry and the parser version (of its format)."""
    digest = hashlib.sha256(data)
    entry = catalog_entry(doc_id, catalog)
    own = FORMAT_VERSIONS.get(Path(doc_id).suffix.lower())
    version = f"{PARSER_VERSION}.{own}" if own else PARSER_VERSION
    digest.update(f"|{version}|{sorted(entry.items())}".encode())
    return digest.hexdigest()[:16]


def file_fingerprint(path: Path, corpus_dir: Path, catalog: dict[str, dict[str, str]]) -> tuple[str, str]:
    """``fingerprint`` of a file on disk, and the hash of its bytes alone (the same document under
    another name has the same), from one read and without parsing.

    Raises:
        CorpusError: the file cannot be read.
    """
    doc_id = path.relative_to(corpus_dir).as_posix()
    try:
        data = path.read_bytes()
        return fingerprint(data, doc_id, catalog), hashlib.sha256(data).hexdigest()[:16]
    except OSError as exc:
        raise CorpusError(f"{doc_id}: filen kan inte läsas ({_os_reason(exc)}).") from exc


def decode_text(data: bytes, doc_id: str) -> str:
    """Decode text files: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if b"\x00" in data:
        raise CorpusError(f"{doc_id}: filen verkar vara binär, inte text.")
    return data.decode("cp1252", errors="replace")


_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BOLD_LINE = re.compile(r"^(\*\*|__)(?P<t>[^*_].*?)\1\s*$")
_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+(.*)$")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")


def _inline(text: str) -> str:
    """Markdown inline text as plain text: emphasis markers dropped, hard breaks kept."""
    lines = [_EMPHASIS.sub(r"\2", line) for line in text.split("\n")]
    return clean_text("\n".join(lines)).strip()


def parse_markdown(text: str) -> BlockBuilder:
    """Split Markdown (or plain text) into headings, paragraphs and lists with source offsets.

    ``#`` headings and lines that are only bold text are headings; consecutive bullet or
    numbered lines form one list; other runs of non-blank lines form a paragraph.
    """
    builder = BlockBuilder()
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\r\n")
        if not line.strip():
            i += 1
            continue
        start = offsets[i]
        heading = _HEADING.match(line)
        bold = _BOLD_LINE.match(line.strip())
        if heading:
            builder.heading(_inline(heading.group(2)), len(heading.group(1)), span=(start, offsets[i + 1]))
            i += 1
            continue
        if bold:
            builder.heading(_inline(bold.group("t")), 0, soft=True, span=(start, offsets[i + 1]))
            i += 1
            continue
        j = i
        if _ITEM.match(line):
            items: list[str] = []
            while j < len(lines) and lines[j].strip():
                item = _ITEM.match(lines[j].rstrip("\r\n"))
                if item:
                    items.append(item.group(1))
                elif items:
                    items[-1] += "\n" + lines[j].strip()
                j += 1
            cleaned = tuple(" ".join(_inline(it).split()) for it in items)
            body = "\n".join(f"- {it}" for it in cleaned)
            builder.block("list", body, items=cleaned, span=(start, offsets[j]))
        else:
            while j < len(lines) and lines[j].strip() and not _HEADING.match(lines[j]):
                if j > i and _ITEM.match(lines[j]):
                    break
                j += 1
            raw = "".join(lines[i:j])
            builder.block("paragraph", _paragraph_text(raw), span=(start, offsets[j]))
        i = j
    return builder


def _paragraph_text(raw: str) -> str:
    """Join soft-wrapped lines with spaces; keep Markdown hard breaks (two trailing spaces)."""
    out: list[str] = []
    for line in raw.splitlines():
        hard = line.endswith(("  ", "\\"))
        out.append(line.strip().rstrip("\\") + ("\n" if hard else " "))
    return _inline("".join(out))
