"""Numbers the documentation states are the numbers the code uses.

Each row names a document, a pattern with one number in it, and the constant of the code it must
equal. When a constant changes, this test fails until the README, docs/*.md or the docstring that
quotes it is updated (the settings table is tied to ``Settings`` the same way in test_config.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import fields

import pytest

from bench import report
from indexer import __main__ as indexer_cli
from kb_app import generations, indexing, lexical, service, store, word
from kb_app.answer import MODEL_FILE
from kb_app.config import Settings
from kb_app.retrieval import Fusion

from .conftest import REPO

FUSION = Fusion()
SETTINGS = Settings()
WORDS = {"två": 2, "tre": 3, "fyra": 4, "fem": 5}
MODELS = json.loads(MODEL_FILE.read_text())  # the shipped answer models


def _number(text: str) -> float:
    """A number as written in Swedish or English prose: "300 000", "300,000", "0,65", "0.65", "tre"."""
    if text in WORDS:
        return WORDS[text]
    text = text.replace("\u00a0", " ").replace(" ", "")
    if re.fullmatch(r"\d{1,3}(,\d{3})+", text):
        text = text.replace(",", "")
    return float(text.replace(",", "."))


NUM = r"([\d  ,.]*\d|två|tre|fyra|fem)"
CASES = [
    # retrieval: exact scoring in memory below Fusion.exact_below chunks, HNSW above
    ("docs/evaluation.md", rf"below {NUM}\s+chunks", FUSION.exact_below),
    ("docs/reliability.md", rf"HNSW-sökning över {NUM} avsnitt", FUSION.exact_below),
    ("docs/benchmarks.md", rf"hålls i minnet upp till {NUM} avsnitt", FUSION.exact_below),
    ("bench/report.py", rf"hålls i minnet upp till {NUM} avsnitt", FUSION.exact_below),
    # fusion: candidates, dense weight, phrase bonus
    ("docs/evaluation.md", rf"z-scores, top {NUM} each, dense [\d.]+ \(chosen\)", FUSION.candidates),
    ("docs/evaluation.md", rf"z-scores, top \d+ each, dense {NUM} \(chosen\)", FUSION.dense_weight),
    ("docs/evaluation.md", rf"added with weight {NUM} \(in z-score units\)", FUSION.phrase_weight),
    ("docs/evaluation.md", rf"to the {NUM} best fused candidates", FUSION.phrase_candidates),
    ("kb_app/store.py", rf"takes[\s#]+the top {NUM} dense candidates", FUSION.candidates),
    # BM25 and Chroma's HNSW parameters
    ("docs/evaluation.md", rf"BM25 k1={NUM}", lexical.BM25_K1),
    ("docs/evaluation.md", rf"BM25 k1=[\d.]+ b={NUM}", lexical.BM25_B),
    ("docs/evaluation.md", rf"M={NUM}, ef_construction", store._HNSW["max_neighbors"]),
    ("docs/evaluation.md", rf"ef_construction={NUM}", store._HNSW["ef_construction"]),
    ("docs/evaluation.md", rf"ef_search={NUM}", store._HNSW["ef_search"]),
    # the README's path of a question
    ("README.md", rf"`candidates` tar de {NUM} bästa efter vektorlikhet", FUSION.candidates),
    ("README.md", rf"z-normaliserade poängen med vikten {NUM}\s+för vektorerna", FUSION.dense_weight),
    ("README.md", rf"bara de {NUM} senaste tidigare frågorna\s+\(`HISTORY_TURNS`\)", service.HISTORY_TURNS),
    # chunking, questions and history
    ("docs/evaluation.md", rf"structure-first chunker, {NUM} characters", SETTINGS.chunk_size),
    ("docs/reliability.md", rf"Bara de {NUM} senaste tidigare frågorna", service.HISTORY_TURNS),
    ("docs/reliability.md", rf"`KB_MAX_QUESTION_CHARS`\s+\({NUM}\) tecken", SETTINGS.max_question_chars),
    # index generations and readers waiting for a first build
    ("README.md", rf"De {NUM} närmast äldre\s+generationerna sparas", generations.KEEP_PREVIOUS),
    ("docs/reliability.md", rf"De {NUM} närmast äldre\s+generationerna sparas", generations.KEEP_PREVIOUS),
    ("docs/reliability.md", rf"\(högst {NUM} minuter\)", service.BUILD_WAIT_S / 60),
    # the free-space estimate before a build
    ("README.md", rf"vektorer ungefär {NUM} gånger", indexing.VECTOR_COPIES),
    # the zip-bomb guard for Word files
    ("docs/reliability.md", rf"\(gräns {NUM} MB", word.MAX_UNPACKED_BYTES / 1e6),
    ("docs/reliability.md", rf"högst {NUM} gånger filens storlek", word.MAX_RATIO),
    # the shipped answer models: second-quote ratio, SweFAQ weight and abstention threshold
    ("docs/evaluation.md", rf"odds are at least {NUM} of the best's", MODELS["ranker"]["meta"]["second_ratio"]),
    ("docs/evaluation.md", rf"\(0\.5, 2, 4 or 6; 15 leaves and {NUM} were", MODELS["abstention"]["meta"]["faq_weight"]),
    ("docs/evaluation.md", rf"and the threshold \({NUM}\) are chosen", round(MODELS["abstention"]["threshold"], 3)),
]


@pytest.mark.parametrize(("document", "pattern", "value"), CASES, ids=[f"{d}-{i}" for i, (d, _, _) in enumerate(CASES)])
def test_documented_number_matches_the_code(document: str, pattern: str, value: float) -> None:
    text = (REPO / document).read_text(encoding="utf-8")
    found = [_number(m) for m in re.findall(pattern, text)]
    assert found, f"{document} no longer says {pattern!r}: update the text or this test"
    assert all(f == pytest.approx(value) for f in found), f"{document}: {found} but the code says {value}"


def test_every_setting_default_in_the_readme_table_is_the_code_default() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(KB_\w+)` \| ([^|]*) \|", readme, re.M))
    for f in fields(Settings):
        env, default = f.metadata["env"], f.default
        shown = rows[env].strip()
        expected = "tomt" if default == "" else f"`{default}`"
        assert shown == expected, f"README says {env} defaults to {shown}, the code to {default!r}"


def test_exit_codes_in_the_readme_are_the_indexers() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    documented = {int(code) for code in re.findall(r"^\| `(\d)` \|", readme, re.M)}
    codes = {getattr(indexer_cli, name) for name in dir(indexer_cli) if name.startswith("EXIT_")}
    assert documented == codes


def test_the_report_generator_still_renders_every_section() -> None:
    """write_report is split into sections; an empty result still gives the header and targets."""
    assert report._targets({}, {}, {}, {}, {}) == ["## Målen", "", "| Mål | Mätt | Status |", "|---|---|---|", ""]


def test_the_readme_path_of_a_question_names_code_that_exists() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    paragraph = readme.split("### En fråga från appen till svaret", 1)[1]
    files = [*(REPO / "kb_app").glob("*.py"), REPO / "streamlit_app.py"]
    code = "\n".join(p.read_text(encoding="utf-8") for p in files)
    for name in re.findall(r"`([^`]+)`", paragraph):
        if name.endswith(".py"):
            assert (REPO / name).is_file(), name
        elif re.fullmatch(r"[A-Za-z_][\w.]*", name) and not name.isupper():
            last = name.split(".")[-1]
            assert re.search(rf"^\s*(def|class) {last}\b", code, re.M), f"README names {name}: not in the code"
