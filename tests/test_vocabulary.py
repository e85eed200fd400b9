"""Unit tests of the word statistics the answer features use (no index needed)."""

from __future__ import annotations

from kb_app.lexical import tokenize
from kb_app.models import Chunk
from kb_app.vocabulary import Vocabulary


def _chunk(doc: str, n: int, text: str) -> Chunk:
    return Chunk(f"{doc}-{n}", doc, doc, "dokument", ("Avsnitt",), text, 1, n, 0, len(text), 0)


def test_leaving_a_document_out_is_the_same_as_never_indexing_it() -> None:
    kept = [_chunk("a.md", 0, "Vargar lever i revir."), _chunk("a.md", 1, "Björnar sover på vintern.")]
    left_out = [_chunk("b.md", 0, "Järvar och vargar i fjällen.")]
    full = Vocabulary.of([*kept, *left_out])
    without = full.without(left_out)
    alone = Vocabulary.of(kept)
    for word in ("vargar", "järvar", "fjällen", "björnar", "okänt"):
        stem = tokenize(word)[0]
        assert without.count(stem) == alone.count(stem)
        assert without.known(stem) is alone.known(stem)
        assert abs(without.idf(stem) - alone.idf(stem)) < 1e-12
    assert full.known(tokenize("järvar")[0]) and not without.known(tokenize("järvar")[0])


def test_a_word_only_a_heading_uses_is_a_word_of_the_documents() -> None:
    text = "Datum: 13 januari 2007. Handläggare: Kristina Tidestav."
    chunk = Chunk("r-0", "r.md", "Lägesredovisning", "dokument", ("Tjänsteutlåtande 2007:10",), text, 1, 1, 0, 9, 0)
    vocabulary = Vocabulary.of([chunk, _chunk("a.md", 0, "Vargar lever i revir.")])
    assert vocabulary.known(tokenize("tjänsteutlåtandet")[0])  # the heading
    assert vocabulary.known(tokenize("lägesredovisningen")[0])  # the document's title
    assert vocabulary.count(tokenize("avsnitt")[0]) == 1  # the other passage's heading
    assert not vocabulary.known(tokenize("utredaren")[0])
