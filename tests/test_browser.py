"""The app in a real browser: `streamlit run` on a free port, driven by Playwright in Debian's Chromium.

Screenshots of every page go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb_app.config import Settings
from kb_app.embeddings import Embedder
from kb_app.indexing import index_corpus

from .conftest import PDF_DIR, REPO

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not become healthy in {timeout} s")


def start_streamlit(settings: Settings, log: Path, **extra_env: str) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    env = {
        **os.environ,
        "KB_CORPUS_DIR": str(settings.corpus_dir),
        "KB_INDEX_DIR": str(settings.index_dir),
        "KB_MODEL_CACHE": str(settings.model_cache),
        "KB_FEEDBACK_DB": str(settings.feedback_db),
        "KB_COLLECTION": settings.collection,
        **extra_env,
    }
    command = [sys.executable, "-m", "streamlit", "run", str(REPO / "streamlit_app.py"), "--server.port", str(port)]
    command += ["--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
    except Exception:
        process.kill()
        raise
    return url, process


@pytest.fixture(scope="module")
def server(app_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("logs") / "streamlit.log"
    url, process = start_streamlit(app_settings, log)
    yield url
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")[-3000:]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium saknas: kör `make browser` (installerar Debians chromium) och försök igen.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="sv-SE")  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


def shot(page: object, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def settle(page: object, quiet_ms: int = 700) -> None:
    """Wait until the app has finished running its script (and stayed idle for ``quiet_ms``)."""
    idle = '[data-testid="stApp"][data-test-script-state="notRunning"]'
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        page.wait_for_selector(idle)  # type: ignore[attr-defined]
        page.wait_for_timeout(quiet_ms)  # type: ignore[attr-defined]
        if page.locator(idle).count():  # type: ignore[attr-defined]
            return
    raise TimeoutError("the app kept running")


def ask(page: object, question: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")  # type: ignore[attr-defined]
    box.fill(question)
    box.press("Enter")


def test_question_answer_and_citation(page: object, server: str, app_settings: Settings) -> None:
    page.goto(server)  # type: ignore[attr-defined]
    ask(page, "Hur mycket betalar varje kommun?")
    answer = page.get_by_test_id("stChatMessage").filter(has_text="4 kronor per kommuninnevånare")  # type: ignore[attr-defined]
    answer.first.wait_for()
    settle(page)
    citation = page.get_by_test_id("stExpander").filter(has_text="[1] Lägesredovisning")  # type: ignore[attr-defined]
    citation.first.locator("summary").click()
    body = citation.first.get_by_test_id("stExpanderDetails")
    body.get_by_text("Öppna stycket i dokumentvyn").wait_for()
    highlighted = body.locator("span").filter(has_text="4 kronor per kommuninnevånare")
    assert highlighted.count() >= 1
    shot(page, "1-fraga-med-kalla")
    # thumbs up is stored with the question in SQLite
    page.get_by_test_id("stFeedback").first.locator("button").first.click()  # type: ignore[attr-defined]
    page.get_by_text("Tack för din återkoppling!").wait_for()  # type: ignore[attr-defined]
    with sqlite3.connect(app_settings.feedback_db) as db:
        rows = db.execute("SELECT rating, question FROM feedback").fetchall()
    assert (1, "Hur mycket betalar varje kommun?") in rows


def test_html_in_a_question_is_plain_text(page: object, server: str) -> None:
    page.goto(server)  # type: ignore[attr-defined]
    attack = '<script>window.__xss = 1</script> <img src="x" onerror="window.__xss = 2">'
    ask(page, attack)
    page.get_by_test_id("stChatMessage").filter(has_text="<script>window.__xss = 1</script>").first.wait_for()  # type: ignore[attr-defined]
    assert page.evaluate("window.__xss") is None  # type: ignore[attr-defined]
    assert page.locator('img[src="x"]').count() == 0  # type: ignore[attr-defined]
    shot(page, "2-html-som-text")


def test_permalink_from_finder_opens_highlighted_paragraph(page: object, server: str) -> None:
    page.goto(f"{server}/?vy=S%C3%B6k+i+dokumenten")  # type: ignore[attr-defined]
    box = page.get_by_role("textbox", name="Sök i dokumenten")  # type: ignore[attr-defined]
    box.fill('"The Capital of Scandinavia"')
    box.press("Enter")
    link = page.get_by_role("link", name=re.compile(r"^Permalänk till stycke \d+$")).first  # type: ignore[attr-defined]
    link.wait_for()
    settle(page)
    shot(page, "3-sok-i-dokumenten")
    href = link.get_attribute("href")
    assert href and "vy=Dokument" in href and "stycke=" in href
    number = re.search(r"stycke=(\d+)", href).group(1)  # type: ignore[union-attr]
    page.goto(f"{server}/{href.lstrip('/')}")  # type: ignore[attr-defined]
    target = page.locator(".st-key-permalink-target")  # type: ignore[attr-defined]
    target.get_by_text(f"Länkat stycke {number}:").wait_for()
    settle(page)
    assert target.locator("span").filter(has_text="The Capital of Scandinavia").count() >= 1
    shot(page, "4-dokument-permalank")


def test_finder_lists_matches_first_and_similar_paragraphs_apart(page: object, server: str) -> None:
    page.goto(f"{server}/?vy=S%C3%B6k+i+dokumenten")  # type: ignore[attr-defined]
    box = page.get_by_role("textbox", name="Sök i dokumenten")  # type: ignore[attr-defined]
    box.fill("Scandinavia")
    box.press("Enter")
    heading = page.get_by_role("heading", name="Liknande stycken")  # type: ignore[attr-defined]
    heading.wait_for()
    settle(page)
    shot(page, "3b-sok-liknande-stycken")
    split = heading.bounding_box()["y"]
    texts = page.get_by_test_id("stMarkdown").all()  # type: ignore[attr-defined]
    above = [t.inner_text() for t in texts if 0 < t.bounding_box()["y"] < split]
    below = [t.inner_text() for t in texts if t.bounding_box()["y"] > split]
    assert any("Scandinavia" in t for t in above)  # the matches, with the word marked
    assert page.locator("span").filter(has_text="Scandinavia").count() >= 1  # type: ignore[attr-defined]
    assert any(t.startswith("Permalänk") for t in below)  # similar paragraphs follow, each with a link
    assert not any("Scandinavia" in t for t in below)  # found by meaning alone: never passed as a match


def test_suggested_question_on_onboarding_is_asked(page: object, server: str) -> None:
    page.goto(f"{server}/?vy=Introduktion")  # type: ignore[attr-defined]
    page.get_by_text("norra Europas ledande tillväxtregion").first.wait_for()  # type: ignore[attr-defined]
    settle(page)
    shot(page, "5-introduktion")
    page.get_by_role("button", name="Vilka mål har partnerskapet?").click()  # type: ignore[attr-defined]
    page.get_by_test_id("stChatMessage").filter(has_text="norra Europas ledande tillväxtregion").first.wait_for()  # type: ignore[attr-defined]
    assert page.get_by_role("tab", name="Fråga").get_attribute("aria-selected") == "true"  # type: ignore[attr-defined]
    shot(page, "6-foreslagen-fraga")


def test_documents_page(page: object, server: str) -> None:
    page.goto(f"{server}/?vy=Dokument")  # type: ignore[attr-defined]
    page.get_by_text("Bilagor som saknas").wait_for()  # type: ignore[attr-defined]
    page.get_by_text("Uppladdning är avstängd").wait_for()  # type: ignore[attr-defined]
    shot(page, "7-dokument")


def test_ten_concurrent_sessions_are_all_answered(browser: object, server: str) -> None:
    questions = [
        "Vilka mål har partnerskapet?",
        "Hur mycket betalar varje kommun?",
        "Hur många kommuner deltar?",
        "Vem leder partnerskapet?",
        "Hur finansieras verksamheten?",
    ]
    expected = {
        "Vilka mål har partnerskapet?": "norra Europas ledande tillväxtregion",
        "Hur mycket betalar varje kommun?": "4 kronor",
        "Hur många kommuner deltar?": "40 kommuner",
        "Vem leder partnerskapet?": "kommunstyrelseordförandena",
        "Hur finansieras verksamheten?": "4 kronor per invånare",
    }
    contexts = [browser.new_context() for _ in range(10)]  # type: ignore[attr-defined]
    try:
        pages = [c.new_page() for c in contexts]
        for page in pages:
            page.set_default_timeout(120_000)
            page.goto(server)
        for round_ in range(2):
            asked = []
            for i, page in enumerate(pages):  # all ten submit before any answer is awaited
                question = questions[(i + round_) % len(questions)]
                ask(page, question)
                asked.append(question)
            for page, question in zip(pages, asked, strict=True):
                messages = page.get_by_test_id("stChatMessage").filter(has_text=expected[question])
                messages.first.wait_for()
        shot(pages[0], "8-tio-samtidiga")
    finally:
        for context in contexts:
            context.close()


def test_the_app_keeps_answering_while_the_indexer_runs(
    page: object, app_settings: Settings, tmp_path: Path, embedder: Embedder
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(app_settings.corpus_dir, corpus)
    settings = Settings(
        corpus_dir=corpus,
        index_dir=tmp_path / "index",
        model_cache=app_settings.model_cache,
        feedback_db=tmp_path / "feedback.sqlite3",
    )
    index_corpus(settings, embedder=embedder)
    url, app = start_streamlit(settings, tmp_path / "streamlit.log")
    try:
        page.goto(url)  # type: ignore[attr-defined]
        page.get_by_text("1 dokument").first.wait_for()  # type: ignore[attr-defined]
        shutil.copy(PDF_DIR / "nfs_2007_10_inventering_stora_rovdjur.pdf", corpus)
        env = {
            **os.environ,
            "KB_CORPUS_DIR": str(corpus),
            "KB_INDEX_DIR": str(settings.index_dir),
            "KB_MODEL_CACHE": str(settings.model_cache),
        }
        indexer = subprocess.Popen([sys.executable, "-m", "indexer"], cwd=REPO, env=env, stderr=subprocess.DEVNULL)
        answered = 0
        while indexer.poll() is None or answered == 0:
            ask(page, f"Vilka mål har partnerskapet? ({answered})")
            message = page.get_by_test_id("stChatMessage").filter(has_text=f"({answered})")  # type: ignore[attr-defined]
            message.first.wait_for()
            page.get_by_test_id("stChatMessage").nth(2 * answered + 1).filter(  # type: ignore[attr-defined]
                has_text="norra Europas ledande tillväxtregion"
            ).wait_for()
            answered += 1
        assert indexer.returncode == 0
        assert answered >= 2, "the indexer finished before the app was asked twice"
        # the next interaction picks up the new generation
        ask(page, "Vad handlar inventeringen av stora rovdjur om?")
        page.get_by_text("2 dokument").first.wait_for()  # type: ignore[attr-defined]
        page.get_by_test_id("stExpander").filter(has_text=re.compile("rovdjur", re.I)).first.wait_for()  # type: ignore[attr-defined]
        shot(page, "9-nytt-index-under-drift")
    finally:
        app.terminate()
        app.wait(timeout=30)
