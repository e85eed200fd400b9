"""The answer models: logistic regression and exported boosted trees, stored as JSON."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from kb_app.answer import MODEL_FILE
from kb_app.answer_features import FEATURES, QUESTION_FEATURES
from kb_app.errors import ModelError
from kb_app.evaluation import answer_copied, words
from kb_app.ranker import LogisticModel, Model, TreeModel, fit, load_models, model_from_json


def _data(seed: int = 0, n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] * x[:, 2] > 0).astype(float)
    return np.hstack([np.ones((n, 1)), x]), y


def test_logistic_fit_learns_the_sign_and_survives_json() -> None:
    x, y = _data()
    model = fit(("bias", "a", "b", "c", "d"), x, y, l2=1.0)
    assert model.weights[1] > 1.0 and abs(model.weights[4]) < 0.3
    assert ((model.probabilities(x) > 0.5) == (y > 0)).mean() > 0.85
    again = model_from_json(json.loads(json.dumps(model.to_json())), model.features)
    assert np.allclose(again.logits(x), model.logits(x), atol=1e-4)


def test_exported_trees_give_the_same_log_odds_as_scikit_learn() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y = _data(1)
    trees = HistGradientBoostingClassifier(max_iter=30, max_leaf_nodes=7, random_state=0).fit(x, y)
    model = TreeModel.from_sklearn(trees, ("bias", "a", "b", "c", "d"))
    probe, _ = _data(2)
    assert np.allclose(model.logits(probe), trees.decision_function(probe), atol=1e-9)
    again = model_from_json(json.loads(json.dumps(model.to_json())), model.features)
    assert np.allclose(again.logits(probe), trees.decision_function(probe), atol=1e-4)
    # the interaction (b * c) is learned: the trees beat a straight line on it
    line = fit(model.features, x, y)
    assert ((model.logits(probe) > 0) == (probe[:, 1] + 0.5 * probe[:, 2] * probe[:, 3] > 0)).mean() > (
        (line.logits(probe) > 0) == (probe[:, 1] + 0.5 * probe[:, 2] * probe[:, 3] > 0)
    ).mean()


def test_boosted_trees_do_not_depend_on_the_order_of_the_rows_of_a_large_set() -> None:
    from kb_app.training import _boosted_trees

    x, y = _data(3, 12_000)  # above 10,000 rows scikit-learn would hold out a random tenth by default
    groups = np.array([f"fråga {i // 3}" for i in range(len(y))], dtype=object)
    make = _boosted_trees(("bias", "a", "b", "c", "d"), 7, 20)
    order = np.random.default_rng(4).permutation(len(y))
    w = np.ones(len(y))
    model, shuffled = make(x, y, w, groups), make(x[order], y[order], w, groups[order])
    probe, _ = _data(5)
    # the same rows in another order give the same trees (a held-out tenth would be other rows, and
    # the bags draw the same questions whatever the order of the rows)
    assert np.allclose(model.logits(probe), shuffled.logits(probe), atol=1e-6)


def test_an_average_of_tree_models_gives_the_mean_log_odds_and_survives_json() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y = _data(6)
    names = ("bias", "a", "b", "c", "d")
    models = [
        TreeModel.from_sklearn(HistGradientBoostingClassifier(max_iter=n, max_leaf_nodes=k).fit(x, y), names)
        for n, k in ((10, 5), (25, 15), (5, 3))
    ]
    mean = TreeModel.average(models)
    probe, _ = _data(7)
    assert len(mean.roots) == 40
    assert np.allclose(mean.logits(probe), np.mean([m.logits(probe) for m in models], axis=0), atol=1e-9)
    again = model_from_json(json.loads(json.dumps(mean.to_json())), names)
    assert np.allclose(again.logits(probe), mean.logits(probe), atol=1e-4)


def test_bags_draw_whole_questions_about_once_each_whatever_the_other_questions() -> None:
    from kb_app.training import resample

    groups = np.array([f"fråga {i % 500}" for i in range(2000)], dtype=object)  # four rows per question
    drawn = [resample(groups, seed) for seed in range(3)]
    for counts in drawn:
        per_group = {g: {c for gg, c in zip(groups, counts, strict=True) if gg == g} for g in set(groups)}
        assert all(len(c) == 1 for c in per_group.values())  # a question's rows are drawn together
        assert 0.85 < counts.mean() < 1.15  # each question about once (Poisson(1), a bootstrap's count)
        assert 0.30 < np.mean([c == {0.0} for c in per_group.values()]) < 0.44  # about 1/e left out
    assert not np.array_equal(drawn[0], drawn[1])  # each bag its own draw
    # a question added to the data leaves the draws of every other question as they were
    more = np.concatenate([groups, np.array(["en ny fråga"] * 3, dtype=object)])
    assert np.array_equal(resample(more, 1)[: len(groups)], drawn[1])


def test_questions_about_the_same_evidence_share_a_group(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kb_app.training import evidence_groups

    def write(name: str, rows: list[dict[str, object]]) -> object:
        path = tmp_path / name
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        return path

    first = write(
        "a.jsonl",
        [
            {"question": "Vad är en lucktomt?", "evidence": "En lucktomt är en obebyggd tomt"},
            {"question": "Hur högt får staketet vara?", "evidence": "högst 1,1 meter"},
            {"question": "Och mot gatan?", "history": ["Hur högt får staketet vara?"], "evidence": "mot gata 0,8 m"},
        ],
    )
    second = write(
        "b.jsonl",
        [
            {"question": "Vad menas med lucktomt?", "evidence": "en lucktomt är en  obebyggd tomt"},
            {"question": "Var ska staket mot gata vara lågt?", "evidence": "mot gata 0,8 m"},
            {"question": "Vad kostar ansökan?", "evidence": ""},
            {"question": "Vad kallas en sådan tomt?", "evidence": "Så: en lucktomt är en obebyggd tomt i en stad"},
            {"question": "Kort citat?", "evidence": "0,8 m"},  # too short to join anything
        ],
    )
    links = evidence_groups([first, second])  # type: ignore[list-item]
    assert links["Vad menas med lucktomt?"] == links["Vad är en lucktomt?"]  # the same quote, reworded
    # a conversation and a question about its second turn's evidence: one group
    assert links["Var ska staket mot gata vara lågt?"] == links["Hur högt får staketet vara?"]
    assert links["Vad är en lucktomt?"] != links["Hur högt får staketet vara?"]
    assert "Vad kostar ansökan?" not in links  # no evidence: its own group
    # a quote that holds another (20 characters or more) is the same fact: one group
    assert links["Vad kallas en sådan tomt?"] == links["Vad är en lucktomt?"]
    assert links["Kort citat?"] != links["Hur högt får staketet vara?"]  # "0,8 m" lies inside "mot gata 0,8 m"


def test_the_held_out_questions_never_become_training_data() -> None:
    from kb_app.training import DATA, DEVELOPMENT, HELD_OUT, TWINS_HELD_OUT, without_held_out

    assert set(HELD_OUT) == {f"heldout{n}_mixed.jsonl" for n in (9, 10, 11, 12)} | {"heldout4_report.jsonl"}
    assert set(TWINS_HELD_OUT) == set(HELD_OUT) - {"heldout4_report.jsonl"}
    assert not {DATA / name for name in HELD_OUT} & set(DEVELOPMENT)
    # report4 (held out) repeats a question of heldout6 (training data) word for word
    repeated = "Vem är ordförande i SBA:s advisory board?"
    report4 = [json.loads(line) for line in (DATA / "heldout4_report.jsonl").read_text().splitlines()]
    assert any(q["question"] == repeated for q in report4)
    assert any(repeated in path.read_text() for path in DEVELOPMENT)
    held = [json.loads(line) for name in TWINS_HELD_OUT for line in (DATA / name).read_text().splitlines()]
    quote = next(q["evidence"] for q in held if len(q["evidence"]) > 40)
    # a fact of report4 that heldout9 to heldout12 do not quote
    report_quote = next(
        r["evidence"]
        for r in report4
        if r["evidence"]
        and not any(
            r["evidence"].lower() in q["evidence"].lower() or q["evidence"].lower() in r["evidence"].lower()
            for q in held
            if q["evidence"]
        )
    )
    asked = [
        {"question": "  ".join(repeated.upper().split()), "evidence": ""},  # other case and spacing
        {"question": "Samma fakta med andra ord?", "evidence": f"Inledning. {quote.upper()} och mer."},  # a twin
        {"question": "En del av citatet?", "evidence": quote[5:-5]},  # a twin: its quote inside the held-out one
        {"question": "Kort citat?", "evidence": quote[:12]},  # too short to count as the same fact
        {"question": "Rapportens fakta?", "evidence": report_quote},  # report4's facts stay (the dev set asks them)
        {"question": "Vad är en bygglovsbefriad åtgärd?", "evidence": "ingen annan mening"},
    ]
    kept = [q["question"] for q in without_held_out(asked)]
    assert kept == ["Kort citat?", "Rapportens fakta?", "Vad är en bygglovsbefriad åtgärd?"]
    # the dev set keeps its twins (the guide's training data), never a word-for-word repeat
    assert [q["question"] for q in without_held_out(asked, twins=False)] == [q["question"] for q in asked[1:]]
    # the counts docs/evaluation.md gives: 54 of the 467 development questions leave (12 repeats, 42 twins)
    development = [json.loads(line) for path in DEVELOPMENT for line in path.read_text().splitlines()]
    assert len(development) == 467
    assert len(without_held_out(development, twins=False)) == 455 and len(without_held_out(development)) == 413


def test_the_shipped_models_match_the_features_of_the_code() -> None:
    ranker, gate = load_models(MODEL_FILE, FEATURES, QUESTION_FEATURES)
    assert ranker.features == FEATURES and gate.features == QUESTION_FEATURES
    assert 0.0 < gate.threshold < 1.0
    meta = json.loads(MODEL_FILE.read_text())["ranker"]["meta"]
    assert meta["data_version"] and "SweQUAD-MC" in meta["trained_on"]


def test_a_model_for_other_features_is_refused_in_swedish(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = LogisticModel(("bias", "x"), np.zeros(2), np.zeros(2), np.ones(2))
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"ranker": model.to_json(), "abstention": model.to_json()}))
    with pytest.raises(ModelError, match="Träna om"):
        load_models(path, FEATURES, QUESTION_FEATURES)
    path.write_text("{inte json")
    with pytest.raises(ModelError, match="kan inte läsas"):
        load_models(path, FEATURES, QUESTION_FEATURES)


def test_the_abstention_threshold_keeps_false_abstention_within_the_limit_on_every_source() -> None:
    from kb_app.training import MAX_FALSE_ABSTENTION, _threshold

    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(0.3, 1.0, 100), rng.uniform(0.0, 1.0, 50), rng.uniform(0.0, 0.5, 100)])
    answerable = np.array([True] * 150 + [False] * 100)
    sources = np.array(["a"] * 100 + ["b"] * 50 + ["a"] * 100)
    threshold = _threshold(p, answerable, sources)
    for source in ("a", "b"):
        own = answerable & (sources == source)
        assert (p[own] < threshold).mean() <= MAX_FALSE_ABSTENTION
    # the spread-out source "b" sets it: a higher threshold would decline too many of its questions
    assert threshold == _threshold(p[sources == "b"], answerable[sources == "b"], sources[sources == "b"])


def test_out_of_fold_probabilities_come_from_models_that_never_saw_the_row() -> None:
    from kb_app.training import GATE_FOLDS, _gate_makers, _out_of_fold

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, len(QUESTION_FEATURES)))
    y = rng.random(400) < 0.5  # no signal: only a model that memorised a row can tell it apart
    w = np.ones(400)
    _, make = _gate_makers()[-1]

    def auc(p: np.ndarray) -> float:
        return float((p[y][:, None] > p[~y][None, :]).mean())

    groups = np.array([str(i) for i in range(400)], dtype=object)
    assert auc(make(x, y, w, groups).probabilities(x)) > 0.75
    assert 0.35 < auc(_out_of_fold(make, x, y, w, groups, np.arange(400) % GATE_FOLDS)) < 0.65


@pytest.mark.slow
def test_cross_fitted_rankers_never_saw_the_question_its_copies_or_its_context() -> None:
    from kb_app.answer_features import Question
    from kb_app.training import FOLD_REPEATS, Collected, _ranker_makers, _stack, _weight, cross_fitted_rows

    rng = np.random.default_rng(1)
    items = []
    for i in range(0, 200, 2):
        labels = np.zeros(5, dtype=bool)
        labels[rng.integers(5)] = True  # no signal in the rows: only memorising finds the right one
        rows = rng.normal(size=(5, len(FEATURES)))
        for j in (i, i + 1):  # two questions about one context: the same candidates, one group
            question = Question(f"fråga {j}", "other", (), (), np.zeros(1), False)
            items.append(
                Collected("swequad", "training", True, rows, labels, [], question, (), [], None, f"kontext {i}")
            )  # type: ignore[arg-type]
    # each question once more, elsewhere in the list (as its half-corpus copy is): same fold
    items += [replace(c) for c in items[1:] + items[:1]]

    def top_is_right(model: Model, c: Collected) -> np.ndarray:
        return np.array([float(c.labels[np.argmax(model.logits(c.rows))])])

    _, make = _ranker_makers()[-1]
    model = make(*_stack(items, _weight))
    in_sample = np.mean([top_is_right(model, c) for c in items])
    crossed = cross_fitted_rows(make, items, items, top_is_right)  # one array per fold assignment
    assert len(crossed) == len(FOLD_REPEATS) and all(c.shape == (400, 1) for c in crossed)
    assert in_sample > 0.5
    assert max(c.mean() for c in crossed) < 0.35  # chance is 0.2


def test_a_removed_context_is_no_negative_when_a_copy_of_its_answer_stays() -> None:
    context = "Ansökan. Ett beslut om avslag gäller normalt i fyra år. Därefter kan du söka igen."
    copy = words("Om visum\n\nEtt beslut om **avslag** gäller normalt i fyra år. Därefter kan du ansöka på nytt.")
    by_chance = words("Kursen tar fyra år. Beslut fattas av nämnden.")
    reworded = words("Ett avslag gäller i regel i fyra år.")
    assert answer_copied(context, "fyra år", [by_chance, copy])
    assert not answer_copied(context, "fyra år", [by_chance, reworded])
    assert not answer_copied(context, "fem år", [copy])  # a span not in its context is never copied
    # the margin reaches to the start and end of the context
    assert answer_copied("Fyra år gäller det", "fyra år", [words("Sedan fyra år gäller det här")])


def test_contexts_linked_by_a_copied_answer_share_a_fold_group() -> None:
    from kb_app.evaluation import swequad_files
    from kb_app.training import copy_groups

    visa = "Ett beslut om avslag gäller normalt i fyra år. Därefter kan du söka igen."
    rows = [
        {"id": "q1", "context_id": "a", "context": "Visum\n" + visa, "answers": [{"text": "fyra år"}]},
        {"id": "q2", "context_id": "b", "context": "Avslag\n" + visa + " Mer om avgift.", "answers": [{"text": "Mer"}]},
        {"id": "q3", "context_id": "c", "context": "Kursen\nKursen tar fyra år.", "answers": [{"text": "fyra år"}]},
    ]
    holders, group = copy_groups(rows, swequad_files(rows))
    assert holders == {"q1": ["b.txt"], "q2": [], "q3": []}
    assert group["a.txt"] == group["b.txt"] != group["c.txt"]


def test_removing_answers_keeps_the_topic_and_drops_each_answering_sentence() -> None:
    from kb_app.evaluation import answers_removed_files, swequad_files, without_answers

    text = "Visum\n\nEtt visum kostar 80 euro. Du ansöker hos ambassaden. Beslutet tar två veckor.\n\nOm avslag\n"
    assert (
        without_answers(text, ["80 euro"])
        == "Visum\n\nDu ansöker hos ambassaden. Beslutet tar två veckor.\n\nOm avslag\n"
    )
    # a span across two sentences takes its whole paragraph; a span that is not there changes nothing
    assert without_answers(text, ["euro. Du ansöker"]) == "Visum\n\nOm avslag\n"
    assert without_answers(text, ["tre veckor"]) == text
    # a span cut inside a word still finds its sentence; one across two paragraphs takes both
    assert without_answers(text, ["tar två vec"]).startswith("Visum\n\nEtt visum kostar 80 euro. Du ansöker")
    assert "veckor" not in without_answers(text, ["tar två vec"])
    assert without_answers(text, ["två veckor.\nOm"]) == "Visum\n"
    rows = [
        {
            "id": "q1",
            "context_id": "a",
            "context": "Visum\nEtt visum kostar 80 euro. Det tar två veckor.",
            "answers": [{"text": "80 euro"}],
        },
        {
            "id": "q2",
            "context_id": "a",
            "context": "Visum\nEtt visum kostar 80 euro. Det tar två veckor.",
            "answers": [{"text": "två veckor"}],
        },
        {
            "id": "q3",
            "context_id": "b",
            "context": "Ett pass\nEtt pass gäller fem år.",
            "answers": [{"text": "Ett pass"}],
        },
    ]
    # every question of a document loses its sentence; a document with nothing left is dropped
    assert answers_removed_files(rows, swequad_files(rows)) == [("a.txt", "Visum", "Visum\n")]


def test_answers_removed_questions_find_their_topic_without_the_fact(tmp_path, embedder) -> None:  # type: ignore[no-untyped-def]
    from kb_app.config import Settings
    from kb_app.evaluation import build_index, normalise, swequad_files
    from kb_app.training import copy_groups, swequad_answers_removed

    visum = "Visum\nEtt visum kostar 80 euro. Du ansöker hos ambassaden i Stockholm. Handläggningen tar två veckor."
    avslag = "Avslag\nEtt beslut om avslag gäller i fyra år. Därefter kan du söka igen hos ambassaden."
    pass_ = "Pass\nEtt pass gäller i fem år. Du ansöker om pass hos polisen. Det kostar 400 kronor."
    pass_copy = "Resor\nTa med passet. Du ansöker om pass hos polisen. Det kostar 400 kronor. Boka tid."
    rows = [
        {"id": "q1", "split": "training", "context_id": "a", "context": visum, "question": "Vad kostar ett visum?",
         "answers": [{"text": "80 euro"}]},
        {"id": "q2", "split": "dev", "context_id": "b", "context": avslag, "question": "Hur länge gäller ett avslag?",
         "answers": [{"text": "fyra år"}]},
        {"id": "q3", "split": "training", "context_id": "c", "context": pass_, "question": "Vad kostar ett pass?",
         "answers": [{"text": "400 kronor"}]},
        {"id": "q4", "split": "test", "context_id": "d", "context": pass_copy, "question": "Vad ska man ta med?",
         "answers": [{"text": "passet"}]},
    ]  # fmt: skip
    files = swequad_files(rows)
    settings = Settings(model_cache=embedder.settings.model_cache)
    build_index(tmp_path / "swequad", files, settings, embedder)
    copies = copy_groups(rows, files)
    items = swequad_answers_removed(tmp_path, rows, files, copies, settings, embedder)
    by_question = {c.question.text: c for c in items}
    # each shares the fold group of its context's other copies (own-context, removed-context, half-corpus)
    assert by_question["Vad kostar ett visum?"].group == copies[1]["a.txt"]
    assert by_question["Vad kostar ett pass?"].group == copies[1]["c.txt"] == copies[1]["d.txt"]
    # the test split stays out: it is how these negatives are reported
    assert set(by_question) == {"Vad kostar ett visum?", "Hur länge gäller ett avslag?", "Vad kostar ett pass?"}
    visa = by_question["Vad kostar ett visum?"]
    assert not visa.answerable and not visa.own_context and not visa.labels.any()
    assert visa.candidates and not any("80 euro" in normalise(c.text) for c in visa.candidates)
    # the topic is still found: the rest of the visa document
    assert any(c.hit.chunk.doc_id == "a.txt" and "ambassaden" in normalise(c.text) for c in visa.candidates)
    # the price of a passport stands in another context too: still answerable, from the copy
    passport = by_question["Vad kostar ett pass?"]
    assert passport.answerable and passport.labels.any()
    assert by_question["Hur länge gäller ett avslag?"].split == "dev"
    # the index keeps the test question's answer (built from the training and dev answers alone)
    corpus = tmp_path / "swequad-answers-removed-training" / "corpus"
    assert "Ta med passet." in (corpus / "d.txt").read_text()
    assert "80 euro" not in (corpus / "a.txt").read_text()


def test_rankers_are_judged_on_our_documents_by_models_that_never_saw_the_question() -> None:
    from kb_app.answer_features import Question
    from kb_app.candidates import SENTENCE, Candidate
    from kb_app.models import Chunk, Hit
    from kb_app.training import (
        FOLD_REPEATS,
        GATE_FOLDS,
        RATIO_GRID,
        Collected,
        _fold,
        _ranker_makers,
        out_of_fold_right,
    )

    rng = np.random.default_rng(2)
    texts = ["Avgiften är 4 kronor.", "Mötet hölls i maj.", "Rådet har tio ledamöter."]
    chunk = Chunk("c1", "doc.md", "Test", "dokument", ("Avsnitt",), " ".join(texts), 1, 1, 0, 60, 0)
    candidates = [Candidate(t, SENTENCE, Hit(chunk, 1.0, rank=1), i, 3, (t,)) for i, t in enumerate(texts)]
    items = []
    for i in range(80):
        rows = rng.normal(size=(3, len(FEATURES)))
        rows[:, 1] = [2.0, 0.0, 0.0]  # dense similarity: the first candidate holds the answer
        question = Question(f"fråga {i}", "other", (), (), np.zeros(1), False)
        source = "development" if i % 2 else "swequad"
        labels = np.array([True, False, False])
        keys = [["4 kronor"]]
        no_words = None  # out_of_fold_right never reads the word statistics
        item = Collected(source, "training", True, rows, labels, candidates, question, (), keys, no_words, f"fråga {i}")  # type: ignore[arg-type]
        items.append(item)
    own = [c for c in items if c.source == "development"]
    fitted_on: list[set[str]] = []
    _, logistic = _ranker_makers()[0]

    def recording(x, y, w, groups):  # type: ignore[no-untyped-def]
        fitted_on.append(set(groups))
        return logistic(x, y, w, groups)

    right = out_of_fold_right(recording, items, own)
    assert set(right) == set(RATIO_GRID) and right[2.0] == len(own)  # one quote: always the first candidate
    assert len(fitted_on) == GATE_FOLDS
    for k, seen in enumerate(fitted_on):  # no model saw a question of the fold it judged
        judged = {c.group for c in own if _fold(c, FOLD_REPEATS[0]) == k}
        assert judged and not judged & seen
