"""BM25 with Swedish stopwords and stems: tokens, ranking, saving and loading (and damage)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kb_app import lexical
from kb_app.lexical import LexicalIndex, tokenize

TEXTS = {
    "avgift": "Varje kommun betalar 4 kronor per kommuninnevånare och år till partnerskapet.",
    "mål": "Målet är att regionen ska bli norra Europas ledande tillväxtregion.",
    "branscher": "Västerås och Eskilstuna tog initiativ till branschsamarbeten inom automation och säkerhet.",
}


def _index() -> LexicalIndex:
    return LexicalIndex.build(list(TEXTS), list(TEXTS.values()))


def test_tokenize_drops_stopwords_and_question_words_and_stems() -> None:
    assert tokenize("Vilka mål har partnerskapet?") == ["mål", "partnerskap"]
    assert tokenize("Hur ska kommunerna betala?") == ["kommun", "betal"]
    assert tokenize("ledande") == tokenize("leds") == ["led"]  # Snowball stems both to "led"


def test_inflected_forms_with_a_doubled_consonant_meet_their_base_form() -> None:
    # Snowball gives "medlemm" and "gemensamm"; the base forms have one consonant
    assert tokenize("medlemmar") == tokenize("medlem") == tokenize("medlemmen") == ["medlem"]
    assert tokenize("gemensamma") == tokenize("gemensam") == ["gemensam"]
    assert tokenize("Stockholm 2007 mm") == ["stockholm", "2007", "mm"]  # too short or no doubled end
    # other doubled consonants stay: their base forms keep them, and undoubling would merge words
    assert tokenize("vissa") != tokenize("visa") and tokenize("större") != tokenize("stör")
    assert tokenize("hitta") != tokenize("hit") and tokenize("full") != tokenize("ful")


def test_the_passage_with_the_query_words_ranks_first() -> None:
    index = _index()
    for query, best in [("Vad betalar kommunerna?", "avgift"), ("ledande region", "mål"), ("automation", "branscher")]:
        scores = index.scores(query)
        assert index.ids[int(np.argmax(scores))] == best
    assert index.row("mål") == 1 and index.row("saknas") is None


def test_a_query_of_only_stopwords_scores_nothing() -> None:
    assert not _index().scores("vad är det som har").any()


def test_save_and_load_give_the_same_scores(tmp_path: Path) -> None:
    index = _index()
    index.save(tmp_path / "bm25")
    assert LexicalIndex.is_current(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25")
    assert loaded is not None and loaded.ids == index.ids
    assert np.allclose(loaded.scores("kommun betalar kronor"), index.scores("kommun betalar kronor"))
    index.save(tmp_path / "bm25")  # replacing a saved index works and leaves no staging folders
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bm25"]


def test_an_empty_index_saves_and_loads(tmp_path: Path) -> None:
    LexicalIndex.build([], []).save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25")
    assert loaded is not None and loaded.ids == [] and loaded.scores("kommun").shape == (0,)


@pytest.mark.parametrize(
    "content",
    ["{skräp", json.dumps({"version": lexical.TOKENIZER_VERSION - 1, "ids": list(TEXTS)}), json.dumps([1, 2])],
    ids=["garbage", "older-tokenizer", "not-an-object"],
)
def test_a_damaged_or_outdated_index_loads_as_none(tmp_path: Path, content: str) -> None:
    _index().save(tmp_path / "bm25")
    (tmp_path / "bm25" / "ids.json").write_text(content, encoding="utf-8")
    assert LexicalIndex.load(tmp_path / "bm25") is None
    assert not LexicalIndex.is_current(tmp_path / "bm25")


def test_damaged_bm25_arrays_load_as_none(tmp_path: Path) -> None:
    _index().save(tmp_path / "bm25")
    for array in (tmp_path / "bm25" / "bm25").glob("*.npy"):
        array.write_bytes(b"not numpy")
    assert LexicalIndex.load(tmp_path / "bm25") is None
    assert LexicalIndex.load(tmp_path / "missing") is None
