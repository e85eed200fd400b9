"""Unit tests of the candidate builder and the answer-type patterns (no index needed)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from kb_app.answer import is_english, resolve_turn
from kb_app.answer_features import FEATURES, Question, candidate_features, content_stems, held_types, question_type
from kb_app.candidates import (
    ITEM,
    LEAD_IN,
    PAIR,
    ROW,
    SENTENCE,
    Unit,
    build_candidates,
    is_noise,
    sentences,
    split_units,
)
from kb_app.models import Chunk, Hit


def _hit(text: str, rank: int = 1) -> Hit:
    chunk = Chunk(f"c{rank}", "doc.md", "Testdokument", "dokument", ("Avsnitt",), text, 1, 1, 0, len(text), 0)
    return Hit(chunk, score=1.0, dense_score=0.8, lexical_score=2.0, rank=rank)


def test_sentences_items_and_rows_are_units() -> None:
    text = (
        "Projektet startade 2019. Det leds av t.ex. Anna Berg och styrs av en grupp.\n\n"
        "Målen är att:\n\n- öka exporten\n- minska utsläppen\n\n"
        "Kurs | Budget (tkr)\nAnalys | 1 100\nService | 600"
    )
    units = split_units(text)
    assert [(u.text, u.kind) for u in units] == [
        ("Projektet startade 2019.", SENTENCE),
        ("Det leds av t.ex. Anna Berg och styrs av en grupp.", SENTENCE),
        ("Målen är att:", SENTENCE),
        ("öka exporten", ITEM),
        ("minska utsläppen", ITEM),
        ("Kurs | Budget (tkr)", ROW),
        ("Analys | 1 100", ROW),
        ("Service | 600", ROW),
    ]


@pytest.mark.parametrize(
    ("text", "noise"),
    [
        ("3.2 Bygglov för altan ........................ 14", True),
        ("Innehåll", True),
        ("17", True),
        ("Allmänna bestämmelser", True),
        ("Beslutet gäller från och med den 1 juli 2013.", False),
        ("Avgiften är 4 kronor.", False),
    ],
)
def test_contents_lines_page_numbers_and_bare_headings_are_noise(text: str, noise: bool) -> None:
    assert is_noise(Unit(text, SENTENCE, 0)) is noise


def test_candidates_hold_units_lead_ins_with_lists_and_pairs() -> None:
    text = (
        "Undersökningen ska genomföras. Den görs under våren 2007.\n\n"
        "Målen är att:\n\n- öka exporten\n- minska utsläppen"
    )
    found = build_candidates([_hit(text)], passages=5)
    kinds = [(c.kind, c.text) for c in found]
    assert (PAIR, "Undersökningen ska genomföras. Den görs under våren 2007.") in kinds
    assert (LEAD_IN, "Målen är att:\n- öka exporten\n- minska utsläppen") in kinds
    assert (ITEM, "öka exporten") in kinds
    lead_in = next(c for c in found if c.kind == LEAD_IN)
    assert lead_in.parts == ("Målen är att:", "öka exporten", "minska utsläppen")
    assert (SENTENCE, "Målen är att:") not in kinds  # a lead-in never stands without its list
    assert not any(c.kind == PAIR and "våren 2007. Målen" in c.text for c in found)  # pairs stay in their paragraph


def test_an_abbreviation_ends_no_sentence_but_a_word_ending_like_one_does() -> None:
    """ "kap." after a number continues the sentence; "partnerskap." and "kunskap." end theirs."""
    text = "Vi bygger ett partnerskap. Det ger kunskap. Se 2 kap. 3 § och prop. 1997/98:44 om det. Vi ses kl. 10.30."
    assert sentences(text) == [
        "Vi bygger ett partnerskap.",
        "Det ger kunskap.",
        "Se 2 kap. 3 § och prop. 1997/98:44 om det.",
        "Vi ses kl. 10.30.",
    ]


def test_a_sentence_ending_with_a_colon_pairs_with_the_next_paragraph() -> None:
    text = "Avgiften beräknas enligt följande:\n\nAvgift = 100 kronor + antal anställda x 10 kronor.\n\nNästa stycke."
    pairs = [c.text for c in build_candidates([_hit(text)], passages=5) if c.kind == PAIR]
    assert "Avgiften beräknas enligt följande: Avgift = 100 kronor + antal anställda x 10 kronor." in pairs
    assert not any(p.startswith("Avgift = 100") and "Nästa" in p for p in pairs)  # no colon: no crossing


def test_a_sentence_that_goes_on_in_the_next_paragraph_pairs_with_it() -> None:
    text = (
        "Nämnden för teknik och miljö föreslås besluta\n\natt anta den nya taxan.\n\n"
        "Taxan gäller från januari.\n\nbeslutet fattades i mars."
    )
    pairs = [c.text for c in build_candidates([_hit(text)], passages=5) if c.kind == PAIR]
    assert "Nämnden för teknik och miljö föreslås besluta att anta den nya taxan." in pairs
    # an ended sentence does not cross a paragraph break, even before a lower-case start
    assert not any(p.startswith("Taxan gäller") for p in pairs)


def test_a_term_on_its_own_in_a_pdf_pairs_with_the_definition_under_it() -> None:
    text = (
        "Följande begrepp används.\n\nUtsläppsrätt (NFS 2099:1)\n\nRätten att släppa ut ett ton koldioxid.\n\n"
        "Med vissa undantag,\n\nDen som har tillstånd.\n\nArtikel uppdaterad 2023-04-26\n\nB&B eller hotell?\n\n"
        "Hänvisning: Asken 11 / SBF 2021-002727\n\nEtt beslut togs.\n\nhttps://www.boverket.se/lov/\n\nSe sidan."
    )
    pdf = replace(_hit(text), chunk=replace(_hit(text).chunk, doc_id="doc.pdf", page=3))
    pairs = [c.text for c in build_candidates([pdf], passages=5) if c.kind == PAIR]
    assert "Utsläppsrätt (NFS 2099:1) Rätten att släppa ut ett ton koldioxid." in pairs
    # a line ending in a comma, a date, a reference or an address is no term
    assert not any(p.startswith(("Med vissa", "Artikel uppdaterad", "Hänvisning", "https")) for p in pairs)
    # in plain text a short line may be a heading: it does not pair with the paragraph under it
    plain = [c.text for c in build_candidates([_hit(text)], passages=5) if c.kind == PAIR]
    assert not any(p.startswith("Utsläppsrätt") for p in plain)


def test_candidates_skip_contents_lines_and_respect_the_passage_limit() -> None:
    hits = [_hit("Innehåll\n\n1 Inledning ........ 3\n\nAvgiften är 4 kronor.", 1), _hit("Mer text här finns.", 2)]
    found = build_candidates(hits, passages=1)
    assert [c.text for c in found] == ["Avgiften är 4 kronor."]


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Hur mycket betalar varje kommun?", "amount"),
        ("Hur många kommuner deltar?", "count"),
        ("När ska rapporten lämnas?", "date"),
        ("Hur länge gäller avtalet?", "duration"),
        ("Vem ansvarar för inventeringen?", "name"),
        ("Var finns kontoret?", "place"),
        ("Varför behövs lagen?", "reason"),
        ("Vad menas med härdplast?", "definition"),
        ("Vilka mål har partnerskapet?", "list"),
        ("Får man bygga en altan utan lov?", "yesno"),
        ("How much does it cost?", "amount"),
        ("Och hur finansieras det?", "other"),
        # the frame after a preposition, a unit after "hur många", measures
        ("Från vilket datum gäller föreskrifterna?", "date"),
        ("Vid hur många tillfällen ska spår dokumenteras?", "count"),
        ("Av vilket skäl ändrades lagen?", "reason"),
        ("Hur många kronor kostar ansökan?", "amount"),
        ("Hur bred ska zonen vara?", "measure"),
        ("Hur gammalt får intyget vara?", "measure"),
        ("Hur lång tid tar handläggningen?", "duration"),
        # a yes/no question puts its finite verb first, whatever the verb
        ("Behövs bygglov för att byta en dörr?", "yesno"),
        ("Ärver barnet vårdnadshavaren?", "yesno"),
        ("Fanns det en budget för 2007?", "yesno"),
        ("Budget för 2007?", "other"),  # no verb first: not a yes/no question
        ("Inför vad söver hon patienten?", "other"),  # the interrogative comes later
        # a question of several sentences asks in its first one with a question mark
        ("Jag har astma. Kan jag vaccinera mig?", "yesno"),
        ("Mitt barn har astma. Hur mycket kostar vaccinet?", "amount"),
        ("Finns det t.ex. bidrag för solceller?", "yesno"),  # "t.ex." does not end a sentence
        ("Vad kostar det enl. taxan?", "amount"),
        # a noun phrase with a question mark is not a yes/no question
        ("Regler för hotell?", "other"),
        ("Projektets budget?", "other"),
        ("Räknas praktikanter som sysselsatta?", "yesno"),
        ("Hur många deltar? Är alla kommuner med?", "count"),
        # the frame noun may end a compound; an adverb may come before the frame
        ("Vilken sanktionsavgift ska betalas?", "amount"),
        ("Vilket slutdatum gäller?", "date"),
        ("Vilken tillsynsmyndighet ansvarar?", "name"),
        ("Ungefär hur många myndigheter arbetar med miljömålen?", "count"),
    ],
)
def test_question_types(question: str, kind: str) -> None:
    assert question_type(question) == kind


def test_the_frame_of_a_measure_question_is_not_content_but_look_alike_words_are() -> None:
    from kb_app.answer_features import content_stems

    assert content_stems("Hur bred ska zonen vara?") == content_stems("Hur ska zonen vara?")
    assert "bredbandsutbyggnad" in content_stems("Beskriv hur bredbandsutbyggnaden finansieras.")


@pytest.mark.parametrize(
    ("sentence", "present", "absent"),
    [
        ("Budgeten är 15 miljoner kronor.", {"amount"}, {"date", "name"}),
        ("Andelen ska vara minst 25 %.", {"amount"}, {"date"}),
        ("Beslutet fattades den 16 maj 2006.", {"date"}, {"amount"}),
        ("Avtalet är femårigt.", {"duration"}, {"amount", "date", "count"}),
        ("Det gäller i tre år.", {"duration", "count"}, {"amount"}),
        ("Ansvaret ligger hos Naturvårdsverket.", {"name"}, {"amount", "date"}),
        ("Kontoret ligger i Uppsala.", {"place", "name"}, set()),
        ("Det görs för att skydda arbetstagarna.", {"reason"}, {"name", "count"}),
        ("En zon på 3,6 meter läggs till.", {"measure"}, {"date", "amount"}),
        ("Projektet startade 2007.", {"date"}, {"measure", "count"}),
        # numbers that are not measures: after a colon or a dash, before a function word
        ("Enligt kapitel 2 och 3 i lagen (SFS 2008:567) gäller det.", set(), {"measure"}),
        ("Den 2008-01-01 trädde den i kraft.", set(), {"measure"}),
        # no false types from ordinary words: "en", "ett", a capital at the start of the sentence
        ("Partnerskapet leds av en styrgrupp och ett råd.", set(), {"count", "name", "place", "amount"}),
    ],
)
def test_answer_type_patterns(sentence: str, present: set[str], absent: set[str]) -> None:
    types = held_types(sentence)
    assert present <= types
    assert not (absent & types)


def test_a_personal_pronoun_leans_on_the_earlier_turn() -> None:
    turn = resolve_turn("Vilket telefonnummer når man henne på?", ["Vem är handläggare för tjänsteutlåtandet?"])
    assert "handläggare" in turn.query and turn.history_stems
    assert not resolve_turn("Vilket telefonnummer har kansliet?", ["Vem är handläggare?"]).history_stems
    such = resolve_turn("Vilket intyg krävs för ett sådant arbete?", ["Vad kostar sanering av asbest?"])
    assert "asbest" in such.query and such.history_stems  # three content words of its own, yet it leans


@pytest.mark.parametrize(
    ("question", "english"),
    [
        ("Which hazard statement code applies to chemical products that may cause cancer?", True),
        ("What is the capital of France?", True),
        ("How much does each municipality pay?", True),
        ("Vad kostar det att vara med?", False),
        ("Kan jag be om en kopia?", False),  # "be" is Swedish too
        ("Hur mycket betalar a-kassan?", False),
        ("Ska kommunen ha en IT-strategi?", False),
        ("Hur mycket betalar varje kommun?", False),
        ("Finns det en budget for 2007?", False),
    ],
)
def test_english_questions_are_told_by_their_function_words(question: str, english: bool) -> None:
    assert is_english(question) is english


def test_follow_up_takes_the_topic_for_retrieval_but_keeps_its_own_words() -> None:
    turn = resolve_turn("Och hur finansieras det?", ["Vilka mål har partnerskapet för 2010?"])
    assert turn.query.startswith("Och hur finansieras det?")
    assert "partnerskapet" in turn.query
    assert turn.stems == ("finansier",)
    assert "mål" in turn.history_stems
    elliptic = resolve_turn("Och för varg?", ["Hur ofta ska lodjur inventeras?"])
    assert "lodjur" in elliptic.query
    alone = resolve_turn("Hur stor är budgeten för 2007?", ["Vilka mål har partnerskapet?"])
    assert alone.query == "Hur stor är budgeten för 2007?" and alone.history_stems == ()


def test_a_pair_ending_in_a_lead_in_brings_its_list() -> None:
    text = "Beslutet fattades i maj. Arbetet ska gälla följande områden:\n\n- export\n- analys"
    pair = next(c for c in build_candidates([_hit(text)], passages=5) if c.kind == PAIR)
    assert pair.text == "Beslutet fattades i maj. Arbetet ska gälla följande områden:\n- export\n- analys"
    assert pair.parts == ("Beslutet fattades i maj.", "Arbetet ska gälla följande områden:", "export", "analys")


def test_a_labelled_line_is_not_a_heading() -> None:
    assert not is_noise(Unit("Handläggare: Anna Berg", SENTENCE, 0))


@pytest.mark.parametrize(
    "text", ["Telefon: 08-123 456 78", "Datum: 2007-01-13", "Dnr: 09-006/2007", "Tel.: 08-123 456 78", "ärende: 12"]
)
def test_a_labelled_number_is_a_fact_not_a_page_number(text: str) -> None:
    assert not is_noise(Unit(text, SENTENCE, 0))


@pytest.mark.parametrize(
    "text",
    [
        "Sida 3",
        "Telefon:",
        "2007-01-13",
        "s. 14",
        "Sida: 3",
        "Figur: 2",
        "Datum: ___",
        "A: 1",
        "10:30",
        "(NFS 2014:23)",
    ],
)
def test_a_number_or_a_label_alone_is_still_noise(text: str) -> None:
    assert is_noise(Unit(text, SENTENCE, 0))


def test_a_lists_lead_in_says_what_the_list_is_about() -> None:
    """``lists.about`` and ``list_title`` read a lead-in candidate's own lead-in sentence."""
    from kb_app import lists
    from kb_app.lexical import tokenize

    hit = _hit("Inledning om annat.\n\nDe deltagande kommunerna är:\n\n- Ekby\n- Dalåker\n- Norrvik")
    lead_in = next(c for c in build_candidates([hit], passages=1) if c.kind == LEAD_IN)
    item = next(c for c in build_candidates([hit], passages=1) if c.kind == ITEM)
    assert set(tokenize("kommunerna")) <= lists.about(lead_in)
    assert lists.about(lead_in) == lists.about(item)
    assert lists.list_title(lead_in) == lists.list_title(item) == "De deltagande kommunerna är"


def test_a_compound_matches_its_parts_in_both_directions() -> None:
    from kb_app.answer_features import coverage
    from kb_app.lexical import tokenize

    def idf(_: str) -> float:
        return 1.0

    words = set(tokenize("Telefon: 08-508 280 22"))
    assert coverage(tokenize("telefonnummer"), words, idf) == 0.5  # the question's compound holds the word
    assert coverage(tokenize("investering"), set(tokenize("investeringsfrämjande")), idf) == 0.5
    assert coverage(tokenize("hus"), set(tokenize("husbil")), idf) == 0.0  # too short to count


def test_a_follow_up_with_its_own_frame_keeps_its_kind() -> None:
    assert resolve_turn("Vilket departement står bakom det?", ["Vilket datum beslutades direktivet?"]).kind == "other"
    assert resolve_turn("Och den högsta?", ["Hur hög är den lägsta avgiften?"]).kind == "measure"


def test_no_word_of_the_question_in_the_passages_gives_no_confidence() -> None:
    """``supported``: a Swedish question none of whose words the passages hold cannot be answered
    extractively; an English one is judged on meaning alone."""
    import numpy as np

    from kb_app.answer import supported
    from kb_app.answer_features import QUESTION_FEATURES, Question

    row = np.zeros(len(QUESTION_FEATURES))
    swedish = Question("Vad kostar ett busskort?", "amount", ("busskort",), (), np.zeros(3), False)
    english = Question("What does a bus pass cost?", "amount", ("bus",), (), np.zeros(3), True)
    assert not supported(swedish, row)
    assert supported(english, row)
    follow_up = Question("Vad kostar det?", "amount", ("kost",), ("busskort",), np.zeros(3), False)
    assert supported(follow_up, row)  # a follow-up's own words may be few
    row[QUESTION_FEATURES.index("passage_coverage")] = 0.5
    assert supported(swedish, row)


@pytest.mark.parametrize(
    ("text", "kind", "bold"),
    [
        ("För inventering ska en zon på 5 km läggas till.", "measure", "**5 km**"),
        ("Varje kommun betalar 4 kronor per invånare.", "amount", "**4 kronor**"),
        ("Föreskrifterna träder i kraft den 1 januari 2008.", "date", "**1 januari 2008**"),
        ("Handläggare: Kristina Tidestav Telefon: 08-508 280 22", "name", "**Kristina Tidestav** Telefon:"),
        ("Familjegrupp lodjur (NFS 2014:23): minst 2 ungar.", "count", "**2** ungar"),
        ("Inventeringsansvarig Den tjänsteman på länsstyrelsen som förordnas.", "name", "Den tjänsteman"),
        ("Inventeringsansvarig Den tjänsteman är Kristina Tidestav.", "name", "är **Kristina Tidestav**"),
        ("Kontakt: Hans Andersson, telefon 08-123.", "name", "**Hans Andersson**"),  # "hans" is a name here
        ("Regeringen föreslog det (prop. 1998/99:110) år 2001.", "date", "**2001**"),
        ("Till 36 § Punkt 1 Vid arbete i tank gäller 3 regler.", "count", "**3** regler"),
    ],
)
def test_the_asked_fact_is_in_bold(text: str, kind: str, bold: str) -> None:
    from kb_app.answer import _bold

    assert bold in _bold(text, kind)


def test_a_list_answers_a_list_question_only_when_it_is_a_list_of_what_is_asked_for() -> None:
    from kb_app import lists

    staff = _hit("Med antal sysselsatta avses:\n\n- de som driver verksamheten\n- inhyrd personal\n- praktikanter")
    found = build_candidates([staff], passages=1)
    logits = np.zeros(len(found))
    # "antal" is in both, but the question asks for limits, not for who counts as staff
    assert lists.pick_list(found, logits, "Vilka gränser för antal bäddar och rum gäller?") is None
    members = _hit("Följande kommuner deltar:\n\n- Ekby\n- Dalåker\n- Norrvik")
    found = build_candidates([members], passages=1)
    pick = lists.pick_list(found, np.zeros(len(found)), "Vilka kommuner ingår i partnerskapet?")
    assert pick is not None and found[pick].kind in (ITEM, LEAD_IN)


def test_words_every_passage_shares_name_the_topic_and_weigh_nothing_in_local_coverage() -> None:
    hits = [
        _hit("Handläggare: Kristina Tidestav\n\nStockholm Business Alliance bildades 2006.", 1),
        _hit("Stockholm Business Alliance har 40 kommuner.", 2),
        _hit("Stockholm Business Alliance arbetar med marknadsföring.", 3),
    ]
    found = build_candidates(hits, passages=5)
    text = "Vem är handläggare för Stockholm Business Alliance?"
    question = Question(text, "name", tuple(content_stems(text)), (), np.ones(2) / np.sqrt(2), False)
    rows = candidate_features(question, found, [np.ones((len(c.parts), 2)) / np.sqrt(2) for c in found], lambda s: 1.0)
    local, plain = rows[:, FEATURES.index("local_coverage")], rows[:, FEATURES.index("coverage")]
    head = next(i for i, c in enumerate(found) if c.text.startswith("Handläggare"))
    topic = next(i for i, c in enumerate(found) if c.text.startswith("Stockholm Business Alliance har"))
    assert plain[topic] > plain[head]  # plain coverage prefers the sentence that names the topic
    assert local[head] == 1.0 and local[topic] == 0.0
