"""Thumbs up/down on answers, kept in a local SQLite file with the question, answer and sources."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from kb_app.answer import Answer
from kb_app.errors import KbError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (0, 1)),
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    abstained INTEGER NOT NULL,
    citations TEXT NOT NULL
)
"""


class FeedbackStore:
    """Append-only feedback log. Each call opens its own connection, so threads may share it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as db, db:
                db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise KbError(f"Feedbackfilen {path} kan inte öppnas: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def record(self, answer: Answer, rating: int) -> int:
        """Store a rating (1 = thumbs up, 0 = thumbs down) of an answer; returns its row id."""
        citations = [
            {"n": c.n, "chunk_id": c.chunk.chunk_id, "location": c.chunk.location, "sentences": list(c.sentences)}
            for c in answer.citations
        ]
        row = (
            datetime.now(UTC).isoformat(timespec="seconds"),
            1 if rating else 0,
            answer.question,
            answer.text,
            int(answer.abstained),
            json.dumps(citations, ensure_ascii=False),
        )
        try:
            with closing(self._connect()) as db, db:
                cursor = db.execute(
                    "INSERT INTO feedback (created_at, rating, question, answer, abstained, citations)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    row,
                )
                return int(cursor.lastrowid or 0)
        except sqlite3.Error as exc:
            raise KbError(f"Feedbacken kunde inte sparas i {self.path}: {exc}") from exc

    def entries(self) -> list[dict[str, object]]:
        """All feedback, oldest first."""
        with closing(self._connect()) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM feedback ORDER BY id").fetchall()
        return [{**dict(r), "citations": json.loads(r["citations"])} for r in rows]
