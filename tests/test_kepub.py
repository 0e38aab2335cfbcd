"""The Kobo edition: the EPUB with a span around each sentence, the text a reader sees unchanged."""
import re
import shutil
import zipfile

import pytest
from lxml import etree
from test_epub import NS, assert_epubcheck_reports_nothing

from book.kepub import kobo_document, split_sentences


@pytest.mark.parametrize("text, sentences", [
    ("N. I. Bukharin was born in Moscow. He joined the party in 1906.",
     ["N. I. Bukharin was born in Moscow. ", "He joined the party in 1906."]),
    ("See e.g. Cohen, p. 213. Then St. Petersburg became Petrograd; Mr. Rykov agreed.",
     ["See e.g. Cohen, p. 213. ", "Then St. Petersburg became Petrograd; Mr. Rykov agreed."]),
    ("“Is it over?” he asked. “Yes.” She left!  (It rained.) ‘Quiet,’ said A. Rykov.",
     ["“Is it over?” he asked. ", "“Yes.” ", "She left!  ", "(It rained.) ", "‘Quiet,’ said A. Rykov."]),
    ("It ended in 1917. 1918 began; see pp. 3–4 and p.\u00a0213. Он ушёл. Она осталась.",
     ["It ended in 1917. 1918 began; see pp. 3–4 and p.\u00a0213. ", "Он ушёл. ", "Она осталась."]),
    ("  leading space, no end", ["  leading space, no end"]),
])
def test_sentences_split_where_sentences_end(text, sentences):
    assert split_sentences(text) == sentences
    assert "".join(split_sentences(text)) == text


def test_an_abbreviation_split_by_markup_is_still_an_abbreviation():
    # <abbr>St</abbr>. Petersburg: the word before the full stop is in the text before it.
    assert split_sentences(". Petersburg is cold. It snowed.", before="in St") == [". Petersburg is cold. ", "It snowed."]
    assert split_sentences(". Then he left.", before="the end") == [". ", "Then he left."]


DOCUMENT = b"""<?xml version='1.0' encoding='utf-8'?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" lang="en">
<head><title>One</title></head>
<body><section epub:type="chapter" role="doc-chapter">
<h1>One</h1>
<p>He wrote <em>this. And that</em> too.<sup><a href="#n1" id="r1" epub:type="noteref" role="doc-noteref">1</a></sup> \
Then he left.<span epub:type="pagebreak" role="doc-pagebreak" id="page-3" aria-label="3"/> A new page.</p>
<aside id="n1" epub:type="footnote" role="doc-footnote"><p><a href="#r1" role="doc-backlink">1.</a> Cohen, p. 213.</p></aside>
<figure><img src="images/map.png" alt="A map"/><figcaption>The front in 1918.</figcaption></figure>
<nav epub:type="page-list" hidden="hidden"><ol><li><a href="#page-3">3</a></li></ol></nav>
</section></body></html>"""


def test_a_document_gets_spans_in_reading_order_around_inline_markup():
    data, count = kobo_document(DOCUMENT)
    doc = etree.fromstring(data)
    spans = [(s.get("id"), s.text) for s in doc.xpath('//x:span[@class="koboSpan"]', namespaces=NS)]
    assert spans == [("kobo.1.1", "One"), ("kobo.2.1", "He wrote "), ("kobo.2.2", "this. "), ("kobo.2.3", "And that"),
                     ("kobo.2.4", " too."), ("kobo.2.5", "1"), ("kobo.2.6", " Then he left."),
                     ("kobo.2.7", " A new page."), ("kobo.3.1", "1."), ("kobo.3.2", " Cohen, p. 213."),
                     ("kobo.4.1", None), ("kobo.5.1", "The front in 1918.")]
    assert count == len(spans)
    assert "".join(doc.itertext()) == "".join(etree.fromstring(DOCUMENT).itertext())
    [marker] = doc.xpath('//x:span[@id="page-3"]', namespaces=NS)
    assert dict(marker.attrib) == {"{%s}type" % NS["epub"]: "pagebreak", "role": "doc-pagebreak", "id": "page-3",
                                   "aria-label": "3"} and len(marker) == 0 and not marker.text
    [call] = doc.xpath('//x:a[@id="r1"]', namespaces=NS)
    assert call.get("{%s}type" % NS["epub"]) == "noteref endnote"  # Kobo pops up only an "endnote"
    [columns] = doc.xpath("/x:html/x:body/*", namespaces=NS)
    assert columns.get("id") == "book-columns" and [inner.get("id") for inner in columns] == ["book-inner"]
    assert not doc.xpath('//x:nav//x:span', namespaces=NS)
    assert doc.xpath('//x:img/..', namespaces=NS)[0].get("id") == "kobo.4.1"
    assert kobo_document(data) == (data, 0)  # spans already there: left alone


def kobo_markup_undone(data: bytes):
    """The kepub document with the Kobo spans and wrappers taken out again (their content kept)."""
    doc = etree.fromstring(data)
    for element in doc.xpath('//x:span[@class="koboSpan"] | //x:div[@id="book-columns" or @id="book-inner"]',
                             namespaces=NS):
        element.tag = "{urn:test:kobo}unwrap"
    etree.strip_tags(doc, "{urn:test:kobo}unwrap")
    etree.cleanup_namespaces(doc)
    for call in doc.xpath('//x:a[@epub:type="noteref endnote"]', namespaces=NS):
        call.set("{%s}type" % NS["epub"], "noteref")
    return doc


@pytest.fixture(scope="module")
def pairs(book) -> dict[str, tuple[bytes, bytes]]:
    """Every XHTML document of the EPUB with its counterpart in the kepub."""
    with zipfile.ZipFile(book.epub) as epub, zipfile.ZipFile(book.kepub) as kepub:
        assert epub.namelist() == kepub.namelist()
        return {name: (epub.read(name), kepub.read(name)) for name in epub.namelist() if name.endswith(".xhtml")}


@pytest.mark.skipif(shutil.which("java") is None, reason="epubcheck needs Java")
def test_epubcheck_reports_nothing_on_the_kepub(book):
    assert_epubcheck_reports_nothing(book.kepub)


def test_the_kepub_is_the_epub_with_only_its_documents_changed(book):
    with zipfile.ZipFile(book.epub) as epub, zipfile.ZipFile(book.kepub) as kepub:
        first = kepub.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert [i.date_time for i in kepub.infolist()] == [i.date_time for i in epub.infolist()]
        changed = {name for name in epub.namelist() if epub.read(name) != kepub.read(name)}
    assert changed and all(name.endswith(".xhtml") for name in changed)
    assert not changed & {"EPUB/nav.xhtml", "EPUB/cover.xhtml"}  # links and a picture: nothing to read


def test_the_text_a_reader_sees_is_unchanged(pairs):
    for name, (epub, kepub) in pairs.items():
        assert "".join(etree.fromstring(kepub).itertext()) == "".join(etree.fromstring(epub).itertext()), name


def test_taking_the_kobo_markup_out_gives_back_the_epub(pairs):
    # So every element, attribute, id, role and page-break marker of the EPUB came through as it was.
    for name, (epub, kepub) in pairs.items():
        assert etree.tostring(kobo_markup_undone(kepub), method="c14n") == \
            etree.tostring(etree.fromstring(epub), method="c14n"), name


def test_span_ids_are_unique_numbered_in_reading_order(pairs):
    total = 0
    for name, (_, kepub) in pairs.items():
        ids = etree.fromstring(kepub).xpath('//x:span[@class="koboSpan"]/@id', namespaces=NS)
        assert all(re.fullmatch(r"kobo\.[1-9]\d*\.[1-9]\d*", i) for i in ids), name
        numbers = [tuple(map(int, i.split(".")[1:])) for i in ids]
        assert numbers == sorted(set(numbers)), name
        total += len(ids)
    assert total > 5000


def test_all_body_text_is_inside_kobo_spans(pairs):
    spanned = 0
    for name, (_, kepub) in pairs.items():
        doc = etree.fromstring(kepub)
        if not doc.xpath('//x:span[@class="koboSpan"]', namespaces=NS):
            continue
        spanned += 1
        loose = doc.xpath('//x:body//text()[normalize-space()][not(ancestor::x:span[@class="koboSpan"])]', namespaces=NS)
        assert loose == [], f"{name}: {loose[:5]}"
        for paragraph in doc.xpath("//x:body//x:p[normalize-space()]", namespaces=NS):
            assert paragraph.xpath('.//x:span[@class="koboSpan"]', namespaces=NS), name
    assert spanned == len(pairs) - 2  # all but the contents and the cover


def test_note_calls_and_notes_keep_their_types_ids_and_links(pairs):
    calls = 0
    for name, (epub, kepub) in pairs.items():
        before, after = etree.fromstring(epub), etree.fromstring(kepub)
        for ref in before.xpath('//x:a[@epub:type="noteref"]', namespaces=NS):
            [twin] = after.xpath(f'//x:a[@id="{ref.get("id")}"]', namespaces=NS)
            assert twin.get("{%s}type" % NS["epub"]).split() == ["noteref", "endnote"]
            assert (twin.get("href"), twin.get("role"), twin.xpath("string()")) == \
                (ref.get("href"), ref.get("role"), ref.xpath("string()"))
            [note] = after.xpath(f'//x:aside[@id="{ref.get("href").lstrip("#")}"]', namespaces=NS)
            assert note.get("{%s}type" % NS["epub"]) == "footnote" and note.get("role") == "doc-footnote"
            calls += 1
    assert calls > 500


def test_workers_make_the_kepub_one_process_makes(book, monkeypatch):
    """A cold build hands documents to forked workers (one started ahead, while the EPUB is finished,
    or one at the kepub's turn): the kepub is the same as one process alone makes."""
    from book import epub_files, kepub
    from book.cache import NO_CACHE

    monkeypatch.setenv(NO_CACHE, "1")  # nothing remembered from one run to the next
    monkeypatch.setattr(epub_files, "spare_core", lambda: True)  # however busy the machine is
    data = book.epub.read_bytes()
    started = []

    class Counted(kepub.Worker):
        def __init__(self, documents, keys):
            started.append(len(documents))
            super().__init__(documents, keys)

    monkeypatch.setattr(kepub, "Worker", Counted)
    monkeypatch.setattr(kepub, "PARALLEL_FROM", 10 ** 12)
    alone = kepub.kepub_from_epub(data)
    monkeypatch.setattr(kepub, "PARALLEL_FROM", 0)
    with zipfile.ZipFile(book.epub) as epub:
        files = {name: epub.read(name) for name in epub.namelist()}
    documents = kepub.content_documents(files)
    kepub.transform_ahead([content for name, content in files.items() if name in documents])
    ahead = kepub.kepub_from_epub(data)
    assert kepub._AHEAD is None and len(started) == 1
    at_its_turn = kepub.kepub_from_epub(data)
    assert len(started) == 2 and all(0 < count < len(documents) for count in started)
    assert ahead == alone and at_its_turn == alone
