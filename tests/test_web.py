"""The web edition as a reader's browser meets it: Chromium (Debian's) driven by Playwright.

The site is built once for the module and served on 127.0.0.1, as a static host would serve it;
one test opens it from disk. axe-core (npm, in .tools/) checks accessibility in the browser.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import quote, unquote, urlsplit
from urllib.request import Request, urlopen

import pytest
from lxml import html

from book.config import ROOT
from conftest import make_root, run_build

CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / ".tools" / "node_modules" / "axe-core" / "axe.min.js"
SLUG = "bukharin-study-guide"

# No skipping: scripts/ensure-env.sh installs chromium and axe-core, and a missing one is a failure.


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("web")
    built = run_build(ROOT, out, targets=("web",))
    assert not built.report.items, [str(i) for i in built.report.items]
    return out / f"{SLUG}-web"


@pytest.fixture(scope="module")
def server(site):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(site)))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser):
    """A page at a given width and colour scheme, recording console errors and every request."""
    contexts = []

    def opener(url: str, width: int = 1280, scheme: str = "light"):
        context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
        contexts.append(context)
        page = context.new_page()
        page.errors, page.requests = [], []
        page.on("console", lambda message: message.type == "error" and page.errors.append(message.text))
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on("request", lambda request: page.requests.append(request.url))
        page.goto(url)
        return page

    yield opener
    for context in contexts:
        context.close()


def html_pages(site: Path) -> list[str]:
    return sorted(p.name for p in site.glob("*.html"))


def test_one_page_per_part(site):
    assert html_pages(site) == sorted(
        ["index.html", "how-to-use.html", "note-on-sources.html", *[f"chapter-{n}.html" for n in range(1, 6)],
         "answers.html", "timeline.html", "people.html", "glossary.html", "sources.html", "book-index.html", "disagreements.html",
         "search.html"])


def test_pages_load_without_console_errors_or_requests_outside_the_site(site, server, open_page):
    for name in html_pages(site):
        page = open_page(server + name)
        page.wait_for_load_state("networkidle")
        assert page.errors == [], (name, page.errors)
        outside = [url for url in page.requests if not url.startswith(server)]
        assert outside == [], (name, outside)
        assert page.locator("nav.toc a[aria-current='page']").count() == 1, name
        assert page.locator("nav.pager a").count() >= 1, name


def test_no_page_scrolls_sideways_on_a_320_px_phone(site, server, open_page):
    for name in html_pages(site):
        page = open_page(server + name, width=320)
        page.wait_for_load_state("load")
        assert page.evaluate("document.documentElement.scrollWidth") <= 320, name


def test_a_chapter_works_opened_from_disk(site, open_page):
    page = open_page((site / "chapter-2.html").as_uri(), width=360)
    page.wait_for_load_state("load")
    assert page.errors == []
    assert all(url.startswith(site.as_uri()) for url in page.requests), page.requests
    assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith(("Libertine", '"Libertine"'))
    assert page.evaluate("document.fonts.check('16px Libertine')")


def test_search_finds_a_phrase_from_chapter_3_and_opens_its_paragraph(server, open_page):
    phrase = "polemical heavy artillery"
    page = open_page(server + "search.html?q=" + f'"{phrase}"')
    page.locator(".search-results a").first.wait_for()
    result = page.locator(".search-results a[href^='chapter-3.html']").first  # the register quotes it too
    href = result.get_attribute("href")
    assert re.fullmatch(r"chapter-3\.html#chapter-3-p\d+", href), href
    result.click()
    page.wait_for_url(re.compile(r"chapter-3\.html#"))
    target = page.locator(":target")
    assert phrase in target.inner_text()
    assert target.evaluate("e => e.tagName") == "P"
    assert page.errors == []


def test_search_works_opened_from_disk(site, open_page):
    page = open_page((site / "search.html").as_uri() + "?q=" + quote('"socialism in one country"'))
    results = page.locator(".search-results li")
    results.first.wait_for()
    assert page.errors == []
    assert "found" in page.locator(".search-status").inner_text()
    for number in range(min(results.count(), 10)):  # each result shows the phrase, marked, in its paragraph
        marked = " ".join(results.nth(number).locator("mark").all_inner_texts()).lower()
        assert all(word in marked for word in ("socialism", "one", "country")), marked
    href = results.first.locator("a").get_attribute("href")
    file_name, anchor = href.split("#")
    target = html.parse(str(site / file_name)).getroot().get_element_by_id(anchor)
    assert "socialism in one country" in " ".join(target.text_content().split()).lower()
    # Accents, case and a typo do not hide a name; nonsense finds nothing.
    page = open_page((site / "search.html").as_uri() + "?q=" + quote("preobrazhenky"))
    page.locator(".search-results li").first.wait_for()
    assert "Preobrazhensky" in page.locator(".search-results").inner_text()
    page = open_page((site / "search.html").as_uri() + "?q=zzyzzx")
    page.locator(".search-status").filter(has_text="Nothing found").wait_for()


def test_a_margin_note_stands_beside_its_call_on_a_wide_screen(server, open_page):
    page = open_page(server + "chapter-3.html", width=1400)
    call = page.locator("a.noteref").nth(4)
    note = page.locator("#" + call.get_attribute("href")[1:])
    assert note.is_visible()
    assert "para." in note.inner_text()
    body = page.locator(".chapter-body").bounding_box()
    call_box, note_box = call.bounding_box(), note.bounding_box()
    assert note_box["x"] > body["x"] + body["width"]  # in the margin, not over the text
    assert note_box["x"] + note_box["width"] <= 1400
    assert abs(note_box["y"] - call_box["y"]) < 40  # level with its call
    back = note.locator("a[role='doc-backlink']")
    assert back.get_attribute("href") == "#" + call.get_attribute("id")


def test_a_pop_up_note_opens_by_touch_and_keyboard_on_a_phone(server, open_page):
    page = open_page(server + "chapter-3.html", width=360)
    call = page.locator("a.noteref").first
    note = page.locator("#" + call.get_attribute("href")[1:])
    assert not note.is_visible()
    call.click()
    assert note.is_visible() and "para." in note.inner_text()
    assert call.get_attribute("aria-expanded") == "true"
    note.locator("a[role='doc-backlink']").click()  # the back-link closes it and returns to the call
    assert not note.is_visible()
    assert page.evaluate("document.activeElement.id") == call.get_attribute("id")
    page.keyboard.press("Enter")
    assert note.is_visible()
    page.keyboard.press("Escape")
    assert not note.is_visible() and call.get_attribute("aria-expanded") == "false"
    box = note.evaluate("e => e.getBoundingClientRect().width")
    assert box <= 360


def test_a_glossary_definition_appears_on_focus_and_on_hover(site, server, open_page):
    glossary = html.parse(str(site / "glossary.html")).getroot()
    page = open_page(server + "chapter-3.html")
    term = page.locator("a.gloss").first
    tip = page.locator("#" + term.get_attribute("aria-describedby"))
    assert not tip.is_visible()
    term.focus()
    assert tip.is_visible()
    term_id = term.get_attribute("href").split("#")[1]
    definition = glossary.get_element_by_id(term_id).getnext()
    for aside in definition.xpath(".//sup|.//*[contains(@class, 'sidenote')]"):  # its notes
        aside.drop_tree()
    definition = definition.text_content()
    assert " ".join(tip.inner_text().split()) == " ".join(definition.split())
    page.keyboard.press("Escape")
    assert not tip.is_visible()
    page.locator("a.gloss").nth(1).hover()
    assert page.locator("#" + page.locator("a.gloss").nth(1).get_attribute("aria-describedby")).is_visible()


def test_every_internal_link_resolves(site):
    ids = {name: set(html.parse(str(site / name)).getroot().xpath("//@id")) for name in html_pages(site)}
    checked = 0
    for name in ids:
        for link in html.parse(str(site / name)).getroot().xpath("//a[@href]"):
            parts = urlsplit(link.get("href"))
            if parts.scheme or parts.netloc:
                continue
            target = unquote(parts.path) or name
            assert (site / target).is_file(), (name, link.get("href"))
            if parts.fragment and target.endswith(".html"):
                assert parts.fragment in ids[target], (name, link.get("href"))
            checked += 1
    assert checked > 1000


def pages_of_ids(page) -> dict[str, str]:
    """id -> the A4 page it stands on, by the last page-break marker before it."""
    pages, current = {}, None
    for element in page.iter():
        if not isinstance(element.tag, str):
            continue
        if element.get("class") == "pagebreak":
            current = element.get("data-page")
        if element.get("id"):
            pages[element.get("id")] = current
    return pages


def test_the_index_shows_a4_page_numbers_that_open_the_exact_place(site):
    index = html.parse(str(site / "book-index.html")).getroot()
    refs = index.xpath("//a[@class='index-page']")
    assert len(refs) > 200
    pages = {name: pages_of_ids(html.parse(str(site / name)).getroot()) for name in html_pages(site)}
    wrong = []
    for ref in refs:
        file, _, anchor = ref.get("href").partition("#")
        if anchor == "disagreements":  # the index's entry for the register's own page
            continue
        assert re.fullmatch(r"ixf?-\d+", anchor), ref.get("href")  # the marked word itself
        assert anchor in pages[file], ref.get("href")
        if pages[file][anchor] != ref.text:
            wrong.append((ref.get("href"), ref.text, pages[file][anchor]))
    # The markers are placed by aligning the words of both editions, which may put a word at
    # a page's edge on the page before; the numbers themselves are the PDF's.
    assert len(wrong) <= len(refs) // 100, wrong


def test_russian_is_marked_as_russian(site):
    chapter = html.parse(str(site / "chapter-3.html")).getroot()
    assert chapter.get("lang") == "en-GB"
    spans = chapter.xpath("//span[@lang='ru']")
    assert "Николай Бухарин" in [s.text for s in spans]


def run_axe(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"]]


def test_axe_finds_no_violations_on_any_page(site, server, open_page):
    found = {}
    for name in html_pages(site):
        page = open_page(server + name)
        page.wait_for_load_state("networkidle")
        found[name] = run_axe(page)
    for width, scheme in ((360, "dark"), (1280, "dark"), (360, "light")):
        page = open_page(server + "chapter-3.html", width=width, scheme=scheme)
        page.locator("a.noteref").first.click()  # an open pop-up too
        page.locator("a.gloss").first.focus()  # and a definition
        found[f"chapter-3.html {width} {scheme}"] = run_axe(page)
    assert {name: v for name, v in found.items() if v} == {}


def test_skip_link_landmarks_and_headings_in_order(site):
    for name in html_pages(site):
        root = html.parse(str(site / name)).getroot()
        assert root.xpath("//body/a[1]/@href") == ["#main"], name
        assert root.xpath("//main[@id='main']") and root.xpath("//header") and root.xpath("//footer"), name
        levels = [int(h.tag[1]) for h in root.xpath("//main//*[self::h1 or self::h2 or self::h3 or self::h4]")]
        assert levels[0] == 1 and levels.count(1) == 1, name
        assert all(b - a <= 1 for a, b in zip(levels, levels[1:])), (name, levels)


def test_two_web_builds_give_the_same_bytes(site, tmp_path):
    run_build(ROOT, tmp_path, targets=("web",))
    again = tmp_path / f"{SLUG}-web"
    first = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []
    assert Path("assets/search-data.js") in first


def test_a_save_during_serve_shows_in_the_browser_and_errors_overlay(tmp_path, open_page):
    root = make_root(tmp_path, "tiny")
    chapter = next(p for p in sorted((root / "chapters").glob("*.md")))
    process = subprocess.Popen([sys.executable, str(ROOT / "build.py"), "serve", "--root", str(root),
                                "--out", str(tmp_path / "dist")], cwd=ROOT, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "COLUMNS": "200"})
    try:
        url = None
        for line in process.stderr:
            match = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
            if match:
                url = match.group(1)
                break
        assert url, "serve never printed its address"
        threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
        page_name = "chapter-1.html"
        page = open_page(url + page_name)
        assert page.errors == []
        text = chapter.read_text(encoding="utf-8")
        last_paragraph = text.rstrip().rsplit("\n\n", 1)[1]
        page.evaluate("() => { window.notReloaded = true; }")
        chapter.write_text(text.rstrip() + "\n\nA paragraph saved while serving.\n", encoding="utf-8")
        page.get_by_text("A paragraph saved while serving.").wait_for(timeout=120_000)
        # The page was patched in place, not reloaded, and is now the same as the page freshly opened.
        assert page.evaluate("() => window.notReloaded") is True
        fresh = open_page(url + page_name)
        assert page.evaluate("() => document.body.innerHTML") == fresh.evaluate("() => document.body.innerHTML")
        # The styles and fonts are sent with a hash of their content: asked for again, unchanged, they
        # are not sent again.
        css = urlopen(url + "assets/web.css")
        tag = css.headers["ETag"]
        assert tag and css.read()
        with pytest.raises(HTTPError) as not_modified:
            urlopen(Request(url + "assets/web.css", headers={"If-None-Match": tag}))
        assert not_modified.value.code == 304
        chapter.write_text(text.rstrip() + "\n\nA broken citation [@no-such-source, para. 1].\n", encoding="utf-8")
        overlay = page.locator(".serve-overlay")
        overlay.wait_for(timeout=120_000)
        assert re.search(rf"{re.escape(chapter.name)}:\d+", overlay.inner_text())
        # The last good page is still there beneath, and still works.
        assert page.get_by_text("A paragraph saved while serving.").count() == 1
        assert page.get_by_text(" ".join(last_paragraph.split()[:3])).count() >= 1
        page.locator(".serve-overlay button").click()
        assert page.locator(".serve-overlay").count() == 0
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0


def test_a_self_check_question_answers_back_by_keyboard_alone(server, open_page):
    page = open_page(server + "chapter-1.html")
    item = page.locator(".selfcheck-item").first
    right = int(item.get_attribute("data-answer"))
    result = item.locator(".selfcheck-result")
    assert result.get_attribute("aria-live") == "polite"
    page.locator(".selfcheck-intro a").focus()  # the last stop before the first question
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "selfcheck-life-1"
    page.keyboard.press("Space")  # chooses the first option
    if right == 1:
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    button = item.locator(".selfcheck-check")
    assert page.evaluate("document.activeElement.classList.contains('selfcheck-check')")
    outline = button.evaluate("b => getComputedStyle(b).outlineStyle + ' ' + getComputedStyle(b).outlineWidth")
    assert not outline.startswith("none") and not outline.endswith(" 0px"), outline  # focus is visible
    page.keyboard.press("Enter")
    assert result.inner_text().startswith("✗") or "Not right" in result.inner_text()
    assert "wrong" in item.get_attribute("class")
    page.keyboard.press("Shift+Tab")  # back to the chosen option
    chosen = int(page.evaluate("document.activeElement.value"))
    for _ in range((right - chosen) % 4):
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    assert "Right" in result.inner_text() and "right" in item.get_attribute("class")
    assert item.locator("details.selfcheck-answer").evaluate("d => d.open")
    assert item.locator("details.selfcheck-answer p").is_visible()
    assert page.errors == []


def test_the_self_check_is_readable_with_scripts_off(site, browser):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto((site / "chapter-1.html").as_uri())
        item = page.locator(".selfcheck-item").first
        assert item.locator(".selfcheck-check").is_hidden()  # a button that could do nothing
        assert item.locator("legend").is_visible() and item.locator("label").count() >= 2
        summary = item.locator("details.selfcheck-answer summary")
        summary.focus()
        page.keyboard.press("Enter")
        explanation = item.locator("details.selfcheck-answer p")
        assert explanation.is_visible() and "Julian" in explanation.inner_text()
        assert page.locator(".selfcheck-item").count() >= 8
    finally:
        context.close()
