"""The EPUB as a screen-reader user, a dark-theme user and a large-type user meet it.

Ace by DAISY (installed into .tools/ace by scripts/ensure-env.sh) checks the built EPUB; headless
Chromium renders its pages in a forced dark theme to measure the links' contrast; the rest reads
the package, the documents and the fonts as a reading system would.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import zipfile
from collections import Counter

import pytest
from fontTools.ttLib import TTFont
from lxml import etree

from book.config import ROOT

NS = {"x": "http://www.w3.org/1999/xhtml", "epub": "http://www.idpf.org/2007/ops",
      "opf": "http://www.idpf.org/2007/opf"}
EPUB_TYPE = "{http://www.idpf.org/2007/ops}type"
ACE = ROOT / ".tools" / "ace" / "node_modules" / ".bin" / "ace-puppeteer"
FONTS = ["LinLibertine_R.otf", "LinLibertine_RI.otf", "LinLibertine_RB.otf", "LinLibertine_RBI.otf",
         "LinBiolinum_R.otf", "LinBiolinum_RB.otf"]


def chromium() -> str:
    path = shutil.which("chromium")
    assert path, "Debian's chromium is missing: run scripts/ensure-env.sh (as root)"
    return path


def content_documents(book) -> dict[str, etree._Element]:
    return {name.removeprefix("EPUB/"): etree.fromstring(data) for name, data in book.epub_files().items()
            if name.endswith(".xhtml")}


# --- Ace by DAISY -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ace_report(book, tmp_path_factory) -> dict:
    assert ACE.exists(), "Ace by DAISY is missing: run scripts/ensure-env.sh"
    out = tmp_path_factory.mktemp("ace")
    # Ace drives Chromium through puppeteer, which takes the browser from this variable (and Ace
    # itself passes --no-sandbox, which running as root needs).
    env = {**os.environ, "PUPPETEER_EXECUTABLE_PATH": chromium()}
    result = subprocess.run([str(ACE), "--force", "--silent", "--outdir", str(out / "report"), str(book.epub)],
                            capture_output=True, text=True, env=env, timeout=900)
    report = out / "report" / "report.json"
    assert result.returncode == 0 and report.exists(), result.stdout + result.stderr
    return json.loads(report.read_text(encoding="utf-8"))


def violations(report: dict) -> list[tuple[str, str, str, str]]:
    """(impact, rule, file, what) for every violation Ace found."""
    found = []
    for subject in report["assertions"]:
        for assertion in subject.get("assertions", []):
            test, result = assertion["earl:test"], assertion["earl:result"]
            found.append((test["earl:impact"], test["dct:title"], subject["earl:testSubject"]["url"],
                          result.get("html") or result.get("dct:description", "")))
    return found


def test_ace_finds_no_critical_or_serious_violation(ace_report):
    found = violations(ace_report)
    print("Ace:", dict(Counter(impact for impact, *_ in found)) or "no violations")
    bad = [v for v in found if v[0] in ("critical", "serious")]
    assert not bad, "\n".join(f"{impact} {rule} in {file}: {what[:200]}" for impact, rule, file, what in bad)


def test_ace_finds_no_moderate_violation_either(ace_report):
    moderate = [v for v in violations(ace_report) if v[0] == "moderate"]
    assert not moderate, "\n".join(f"{rule} in {file}: {what[:200]}" for _, rule, file, what in moderate)
    assert ace_report["earl:result"]["earl:outcome"] == "pass"


def test_ace_reads_the_accessibility_metadata(ace_report):
    present = set(ace_report["a11y-metadata"]["present"])
    assert {"schema:accessMode", "schema:accessModeSufficient", "schema:accessibilityFeature",
            "schema:accessibilityHazard", "schema:accessibilitySummary", "dcterms:conformsTo"} <= present


# --- The package --------------------------------------------------------------------------------

def test_package_declares_what_the_build_guarantees(book):
    opf = etree.fromstring(book.epub_files()["EPUB/content.opf"])
    assert opf.get("{http://www.w3.org/XML/1998/namespace}lang") == "en-GB"
    meta: dict[str, list[str]] = {}
    for element in opf.xpath("//opf:metadata/opf:meta[@property]", namespaces=NS):
        meta.setdefault(element.get("property"), []).append(element.text)
    assert meta["schema:accessMode"] == ["textual"]
    assert meta["schema:accessModeSufficient"] == ["textual"]
    features = set(meta["schema:accessibilityFeature"])
    assert {"structuralNavigation", "tableOfContents", "index", "readingOrder", "alternativeText"} <= features
    # Page features are claimed because the markers and the page list are there (see test_pages.py).
    assert {"pageBreakMarkers", "pageNavigation"} <= features
    nav = etree.fromstring(book.epub_files()["EPUB/nav.xhtml"])
    assert nav.xpath('//x:nav[@epub:type="page-list"]/x:ol/x:li', namespaces=NS)
    assert meta["pageBreakSource"] and "A4" in meta["pageBreakSource"][0]
    assert meta["schema:accessibilityHazard"] == ["none"]
    [summary] = meta["schema:accessibilitySummary"]
    assert "underlined" in summary and "text alternative" in summary
    assert meta["dcterms:conformsTo"] == ["EPUB Accessibility 1.1 - WCAG 2.1 Level AA"]
    assert meta["a11y:certifiedBy"] == ["The Bukharin Study Guide Project"]


def test_apple_books_is_asked_to_use_the_books_fonts(book):
    options = etree.fromstring(book.epub_files()["META-INF/com.apple.ibooks.display-options.xml"])
    assert options.xpath('//platform[@name="*"]/option[@name="specified-fonts"]/text()') == ["true"]


# --- Roles, headings, notes, navigation ----------------------------------------------------------

EXPECTED_ROLES = {"how-to-use.xhtml": ("preface", "doc-preface"), "note-on-sources.xhtml": ("preface", "doc-preface"),
                  **{f"chapter-{n}.xhtml": ("chapter", "doc-chapter") for n in range(1, 6)},
                  "answers.xhtml": ("appendix", "doc-appendix"), "timeline.xhtml": ("appendix", "doc-appendix"), "people.xhtml": ("appendix", "doc-appendix"),
                  "glossary.xhtml": ("glossary", "doc-glossary"), "sources.xhtml": ("bibliography", "doc-bibliography"),
                  "index.xhtml": ("index", "doc-index")}


def test_every_part_has_its_role(book):
    docs = content_documents(book)
    for name, (epub_type, role) in EXPECTED_ROLES.items():
        [part] = docs[name].xpath("/x:html/x:body/x:section", namespaces=NS)
        assert (part.get(EPUB_TYPE), part.get("role")) == (epub_type, role), name
        if role == "doc-appendix":  # a landmark needs a name
            assert part.get("aria-label") == part.xpath("string(x:h1)", namespaces=NS), name


def test_headings_go_down_one_level_at_a_time(book):
    for name, doc in content_documents(book).items():
        levels = [int(h.tag[-1]) for h in doc.iter("{%s}h1" % NS["x"], *("{%s}h%d" % (NS["x"], n) for n in range(2, 7)))]
        if not levels:
            assert name in ("cover.xhtml", "title.xhtml"), f"{name} has no heading"
            continue
        assert levels[0] == 1, name
        assert all(b <= a + 1 for a, b in zip(levels, levels[1:])), f"{name}: {levels}"


def test_notes_close_their_part_under_a_heading(book):
    files = 0
    for name, doc in content_documents(book).items():
        if not doc.xpath('//x:a[@epub:type="noteref"]', namespaces=NS):
            assert not doc.xpath('//*[@role="doc-endnotes"]', namespaces=NS), name
            continue
        files += 1
        [notes] = doc.xpath('//x:section[@role="doc-endnotes"]', namespaces=NS)
        assert notes.get(EPUB_TYPE) == "endnotes"
        heading = notes[0]
        assert heading.tag == "{%s}h2" % NS["x"] and heading.text == "Notes"
        assert notes.get("aria-labelledby") == heading.get("id")
        # the notes belong to the part, and stay pop-up footnotes
        assert notes.getparent().get("role") == EXPECTED_ROLES[name][1], name
        asides = notes.xpath('x:aside', namespaces=NS)
        assert asides and all(a.get(EPUB_TYPE) == "footnote" and a.get("role") == "doc-footnote" for a in asides)
        # ...and a note call is a link a reader can see without colour
        assert not doc.xpath('//x:a[@epub:type="noteref"][not(@class="noteref")]', namespaces=NS)
    assert files >= 5


def test_landmarks_stay_out_of_the_reading_order(book):
    nav = etree.fromstring(book.epub_files()["EPUB/nav.xhtml"])
    [landmarks] = nav.xpath('//x:nav[@epub:type="landmarks"]', namespaces=NS)
    assert landmarks.get("hidden") == ""
    [toc] = nav.xpath('//x:nav[@epub:type="toc"]', namespaces=NS)
    assert toc.get("hidden") is None and toc.xpath("string(x:h1)", namespaces=NS) == "Contents"


def test_stylesheet_underlines_links_and_hyphenates_for_webkit(book):
    css = book.epub_files()["EPUB/style/book.css"].decode()
    assert re.search(r"(?m)^a \{[^}]*color: inherit;[^}]*text-decoration: underline;", css)
    assert "-webkit-hyphens: auto; hyphens: auto;" in css
    # Who's who: dates and the Cyrillic name in normal weight, apart from the bold name
    assert re.search(r"dt \.dates, dt \.cyrillic \{ font-weight: normal; \}", css)


# --- Fonts ----------------------------------------------------------------------------------------

def used_characters(book) -> set[str]:
    text = "".join("".join(doc.itertext()) for doc in content_documents(book).values())
    return {c for c in text if not c.isspace() or c in "\u00a0\u2009\u202f"}


def test_fonts_are_subset_to_the_text_and_keep_their_licence(book):
    files = book.epub_files()
    used = used_characters(book)
    for name in FONTS:
        original_path = ROOT / "styles" / "fonts" / name
        embedded = files[f"EPUB/style/fonts/{name}"]
        assert len(embedded) < original_path.stat().st_size / 3, name
        original = TTFont(original_path).getBestCmap()
        cmap = TTFont(io.BytesIO(embedded)).getBestCmap()
        missing = sorted(c for c in used if ord(c) in original and ord(c) not in cmap)
        assert not missing, f"{name} lost {''.join(missing)!r}"
        assert all(ord(c) in cmap for c in "Aa.,;:!?’“”–—")
        assert len(cmap) < len(original) / 2, name
    # the licence travels with the fonts, and the manifest lists it
    assert files["EPUB/style/fonts/OFL.txt"] == (ROOT / "styles" / "fonts" / "OFL-1.1.txt").read_bytes()
    opf = etree.fromstring(files["EPUB/content.opf"])
    assert opf.xpath('//opf:item[@href="style/fonts/OFL.txt"]/@media-type', namespaces=NS) == ["text/plain"]


def shaped(font: bytes, words: list[str]) -> list[list[tuple]]:
    """Each word's glyphs (by name) with their advances and offsets, as HarfBuzz shapes it with the
    font's default features (ligatures, kerning, marks)."""
    import uharfbuzz as hb

    glyph_names = TTFont(io.BytesIO(font)).getGlyphOrder()
    hb_font = hb.Font(hb.Face(font))
    result = []
    for word in words:
        buffer = hb.Buffer()
        buffer.add_str(word)
        buffer.guess_segment_properties()
        hb.shape(hb_font, buffer)
        result.append([(glyph_names[info.codepoint], pos.x_advance, pos.x_offset, pos.y_offset)
                       for info, pos in zip(buffer.glyph_infos, buffer.glyph_positions)])
    return result


def test_subset_fonts_set_the_text_as_the_originals_do(book):
    files = book.epub_files()
    words = sorted({word for doc in content_documents(book).values() for word in "".join(doc.itertext()).split()})
    assert len(words) > 1000
    for name in FONTS:
        original_data = (ROOT / "styles" / "fonts" / name).read_bytes()
        embedded_data = files[f"EPUB/style/fonts/{name}"]
        original, embedded = TTFont(io.BytesIO(original_data)), TTFont(io.BytesIO(embedded_data))
        embedded.ensureDecompiled()  # every table reads
        # the copyright, licence, designer and the rest of the English names travel with the face
        names = {(r.nameID, r.toUnicode()) for r in original["name"].names if r.platformID == 3}
        assert {(r.nameID, r.toUnicode()) for r in embedded["name"].names} == names, name
        assert {0, 9, 13, 14} <= {name_id for name_id, _ in names}
        assert "FFTM" not in embedded and "MATH" not in embedded
        assert embedded["head"].modified == original["head"].modified
        # every character kept draws the original's glyph, and the text's ligatures and kerning
        # (GSUB, GPOS) come out the same: the same glyphs at the same places, word by word
        original_cmap = original.getBestCmap()
        assert all(original_cmap.get(c) == glyph for c, glyph in embedded.getBestCmap().items()), name
        assert shaped(embedded_data, words) == shaped(original_data, words), name


def test_the_epub_is_small(book):
    assert book.epub.stat().st_size < 700_000


# --- A dark theme, in a real browser ---------------------------------------------------------------

DARK_THEME = "html { background: #000; color: #fff; }"
LINK_COLOURS = """() => Array.from(document.querySelectorAll('body a[href]')).map(a => {
    let el = a, bg = 'rgba(0, 0, 0, 0)';
    while (el && (bg === 'rgba(0, 0, 0, 0)' || bg === 'transparent')) {
        bg = getComputedStyle(el).backgroundColor; el = el.parentElement;
    }
    const style = getComputedStyle(a);
    return {text: a.textContent, color: style.color, background: bg, decoration: style.textDecorationLine};
})"""


def rgb(css: str) -> tuple[float, float, float]:
    r, g, b = (float(v) for v in re.findall(r"[\d.]+", css)[:3])
    return r, g, b


def contrast(a: str, b: str) -> float:
    def luminance(colour):
        channels = [v / 255 for v in rgb(colour)]
        r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_links_keep_their_contrast_and_underline_in_a_dark_theme(book, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency")
    with zipfile.ZipFile(book.epub) as archive:
        archive.extractall(tmp_path)
    pages = [f"chapter-{n}.xhtml" for n in range(1, 6)] + ["how-to-use.xhtml", "glossary.xhtml", "index.xhtml",
                                                           "people.xhtml", "timeline.xhtml", "nav.xhtml"]
    checked = Counter()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium())
        page = browser.new_page()
        for name in pages:
            page.goto((tmp_path / "EPUB" / name).as_uri())
            page.add_style_tag(content=DARK_THEME)
            for link in page.evaluate(LINK_COLOURS):
                ratio = contrast(link["color"], link["background"])
                assert ratio >= 4.5, f"{name}: {link['text']!r} is {link['color']} on {link['background']} ({ratio:.1f}:1)"
                assert "underline" in link["decoration"], f"{name}: {link['text']!r} is not underlined"
                checked[name] += 1
        browser.close()
    assert checked["index.xhtml"] > 100 and checked["glossary.xhtml"] > 20 and checked["nav.xhtml"] > 20
    assert all(checked[f"chapter-{n}.xhtml"] > 20 for n in range(1, 6))
