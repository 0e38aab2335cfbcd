"""The register of disagreements: checked like the citations, discussed in the guide, and printed
in both formats as the back-matter page "Where the Sources Disagree"."""
import re
import zipfile
from pathlib import Path

import pdfplumber
import pytest
from lxml import etree, html
from pypdf import PdfReader

from book.conflicts import load_register
from book.config import ROOT
from book.diagnostics import BuildError
from book.pipeline import gather

REGISTER = """\
- id: birth-date
  question: When was he born?
  sides:
    - source: spartacus
      para: 1
      says: 27 September 1888.
      quote: "born in Moscow on 27th September 1888"
    - source: brief-summary
      para: 2
      says: 9 October 1888.
      quote: "Born in Moscow on 9 October 1888"
  conclusion: The same day in two calendars.
"""
TOUCHES = '  touches: {events: ["1888-10-09"]}\n'
BOX = '::: {.disagree title="When was he born?"}'
NAMED_BOX = '::: {.disagree title="When was he born?" conflict="birth-date"}'


def write(root: Path, relative: str, old: str | None, new: str) -> None:
    path = root / relative
    text = path.read_text(encoding="utf-8") if old is not None else ""
    if old is not None:
        assert old in text
    if old == "":  # append
        path.write_text(text + new, encoding="utf-8")
    else:
        path.write_text(text.replace(old, new, 1) if old is not None else new, encoding="utf-8")


def line_of(root: Path, relative: str, needle: str) -> int:
    text = (root / relative).read_text(encoding="utf-8")
    return text[:text.index(needle)].count("\n") + 1


def errors(root: Path) -> list[str]:
    return [str(d) for d in gather(root).report.errors]


@pytest.fixture
def registered(tiny) -> Path:
    """The tiny book with a one-entry register that its box discusses."""
    write(tiny, "sources/conflicts.yaml", None, REGISTER)
    write(tiny, "chapters/01-life.md", BOX, NAMED_BOX)
    return tiny


def test_a_register_whose_entries_are_discussed_checks_clean(registered):
    assert errors(registered) == []
    assert [c.id for c in load_register(registered).entries] == ["birth-date"]


def test_a_wrong_paragraph_is_reported_at_its_line(registered):
    write(registered, "sources/conflicts.yaml", "      para: 1\n", "      para: 99\n")
    line = line_of(registered, "sources/conflicts.yaml", "para: 99")
    assert errors(registered) == [
        f"sources/conflicts.yaml:{line}: error: birth-date: 'spartacus' has no paragraph 99 (it has 49); "
        "see python -m book.sources spartacus [conflicts.bad-paragraph]"]


def test_a_quote_missing_from_its_paragraph_is_reported_with_the_nearest_text(registered):
    write(registered, "sources/conflicts.yaml", "27th September", "28th September")
    line = line_of(registered, "sources/conflicts.yaml", "28th September")
    assert errors(registered) == [
        f"sources/conflicts.yaml:{line}: error: birth-date: quote “born in Moscow on 28th September 1888” is not "
        "in 'spartacus', para. 1 [conflicts.quote-mismatch]\n"
        "    nearest text in 'spartacus', para. 1: “born in Moscow on 27th September 1888.”"]


def test_an_unknown_source_is_reported(registered):
    write(registered, "sources/conflicts.yaml", "source: brief-summary", "source: brief-sumary")
    line = line_of(registered, "sources/conflicts.yaml", "brief-sumary")
    assert errors(registered) == [f"sources/conflicts.yaml:{line}: error: birth-date: source 'brief-sumary' "
                                  "is not in sources/registry.yaml [conflicts.unknown-source]"]


def test_an_entry_nobody_discusses_is_an_error(registered):
    write(registered, "chapters/01-life.md", NAMED_BOX, BOX)
    assert errors(registered) == [
        "sources/conflicts.yaml:1: error: birth-date: no chapter or front-matter page discusses this "
        "disagreement; name it in a box (::: {.disagree conflict=\"birth-date\"}) or a passage "
        "([…]{conflict=\"birth-date\"}) [conflicts.undiscussed]"]


def test_an_id_the_register_lacks_is_an_error_where_the_text_names_it(registered):
    passage = 'He was executed [on 15 March 1938]{conflict="execution-date"}.[@spartacus, para. 39]'
    write(registered, "chapters/01-life.md", "He was executed on 15 March 1938.[@spartacus, para. 39]", passage)
    line = line_of(registered, "chapters/01-life.md", passage)
    column = passage.index('conflict="') + 1
    assert errors(registered) == [
        f"chapters/01-life.md:{line}:{column}: error: conflict 'execution-date' is not in sources/conflicts.yaml; "
        "add an entry or correct the id [conflicts.unknown-id]"]


def test_a_passage_can_discuss_an_entry_instead_of_a_box(registered):
    write(registered, "chapters/01-life.md", NAMED_BOX, BOX)
    write(registered, "chapters/01-life.md", "Colley gives 9 October.",
          '[Colley gives 9 October]{conflict="birth-date"}.')
    assert errors(registered) == []


def test_the_timeline_may_not_state_a_disputed_point_on_one_sides_word(registered):
    write(registered, "sources/conflicts.yaml", "", TOUCHES)  # appended: the entry touches the birth event
    write(registered, "chapters/timeline.yaml", "[@spartacus, para. 1; @brief-summary, para. 2]",
          "[@brief-summary, para. 2]")
    line = line_of(registered, "chapters/timeline.yaml", "event: >-")  # the first event's text
    assert errors(registered) == [
        f"chapters/timeline.yaml:{line}: error: this entry states a point the register records as disputed "
        "(birth-date: When was he born?) but cites only 1 of its sides (spartacus, para. 1, brief-summary, "
        "para. 2); cite at least two sides, or name the dispute with [words]{conflict=\"birth-date\"} "
        "[conflicts.unhedged]"]
    # Naming the dispute hedges it as well as citing both sides does.
    write(registered, "chapters/timeline.yaml", "Bukharin is born in Moscow.",
          '[Bukharin is born in Moscow]{conflict="birth-date"}.')
    assert errors(registered) == []


def test_a_phrase_brings_any_apparatus_entry_under_the_rule(registered):
    write(registered, "sources/conflicts.yaml", "", "  phrases: [Moscow]\n")
    # The who's who entry for Bukharin says he was born in Moscow and cites Simkin alone.
    assert [e.split(": error: ")[0] for e in errors(registered)] == [
        f"chapters/people.yaml:{line_of(registered, 'chapters/people.yaml', 'about: >-')}"]  # Bukharin's entry


def test_an_invalid_register_stops_the_build_at_the_line(registered):
    write(registered, "sources/conflicts.yaml", "  conclusion: The same day in two calendars.\n", "")
    with pytest.raises(BuildError) as caught:
        gather(registered)
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.file, diagnostic.line) == ("conflicts.invalid", "sources/conflicts.yaml", 1)
    assert "conclusion" in diagnostic.message


# --- the built book ---------------------------------------------------------------------------

def plain(markdown: str) -> str:
    """A question as the PDF's text shows it: no emphasis marks, straight apostrophes."""
    return markdown.replace("*", "").replace("’", "'")


def real_register():
    return load_register(ROOT).entries


def epub_tree(book, name: str):
    with zipfile.ZipFile(book.epub) as archive:
        return etree.fromstring(archive.read(f"EPUB/{name}"))


XHTML = {"x": "http://www.w3.org/1999/xhtml"}


def test_the_real_register_is_large():
    # That every entry is discussed, and every quote found, is test_check's clean check of the real book.
    entries = real_register()
    assert len(entries) >= 30
    assert all(len(entry.sides) >= 2 for entry in entries)


def test_the_epub_page_lists_every_entry_with_links_to_where_it_is_discussed(book):
    with zipfile.ZipFile(book.epub) as archive:
        files = {name.removeprefix("EPUB/"): archive.read(name) for name in archive.namelist()
                 if name.endswith(".xhtml")}
    page = etree.fromstring(files["disagreements.xhtml"])
    assert page.xpath("string(//x:h1)", namespaces=XHTML) == "Where the Sources Disagree"
    trees = {name: etree.fromstring(data) for name, data in files.items()}
    for entry in real_register():
        [block] = page.xpath(f"//x:div[@id='conflict-{entry.id}']", namespaces=XHTML)
        sides = block.xpath(".//x:ul[@class='conflict-sides']/x:li", namespaces=XHTML)
        assert len(sides) == len(entry.sides)
        for side in sides:  # each side says something beyond its citation (Markdown can turn "1906." into a list)
            cite = side.xpath("string(x:span[@class='conflict-cite'])", namespaces=XHTML)
            assert side.xpath("string()").replace(cite, "").strip(), (entry.id, cite)
            assert not side.xpath(".//x:ol", namespaces=XHTML), entry.id
        places = block.xpath(".//x:a[@class='conflict-ref']/@href", namespaces=XHTML)
        assert places, entry.id
        for href in places:
            file_name, _, anchor = href.partition("#")
            [target] = trees[file_name].xpath(f"//*[@id='{anchor}']")
            assert entry.id in target.get("data-conflict").split(), (entry.id, href)
        # each place is followed by the print edition's page, linked to its page-break marker
        for href in block.xpath(".//x:a[@class='index-page']/@href", namespaces=XHTML):
            file_name, _, anchor = href.partition("#")
            assert trees[file_name].xpath(f"//*[@id='{anchor}']"), href
    with zipfile.ZipFile(book.epub) as archive:
        nav = archive.read("EPUB/nav.xhtml").decode()
    assert "Where the Sources Disagree" in nav


def test_the_epub_index_points_to_the_page_and_the_discussions(book):
    index = html.fromstring(zipfile.ZipFile(book.epub).read("EPUB/index.xhtml"))
    [item] = [li for li in index.iter("li") if li.text_content().startswith("disagreements between sources")]
    hrefs = [a.get("href") for a in item.iter("a")]
    assert any(h.startswith("disagreements.xhtml#page-") for h in hrefs)
    assert any(h.startswith("chapter-1.xhtml#page-") for h in hrefs)


def test_the_pdf_page_prints_every_entry_with_the_pages_of_its_discussions(book):
    reader = PdfReader(book.pdf("a4"))
    labels = reader.page_labels
    outline = [o for o in reader.outline if not isinstance(o, list)]
    start = reader.get_destination_page_number(next(o for o in outline if o.title == "Where the Sources Disagree"))
    end = reader.get_destination_page_number(next(o for o in outline if o.title == "Sources"))
    box_titles = {}
    for path in sorted((ROOT / "chapters").glob("0*.md")):
        for title, ids in re.findall(r'\{\.disagree title="([^"]*)" conflict="([^"]*)"\}', path.read_text()):
            for conflict_id in ids.split():
                box_titles.setdefault(conflict_id, plain(title))
    with pdfplumber.open(book.pdf("a4")) as pdf:
        text = " ".join(pdf.pages[n].extract_text() for n in range(start, end))
        text = re.sub(r"[-\u2010] ?\n", "", text).replace("\n", " ").replace("’", "'")
        for entry in real_register():
            assert plain(entry.question) in text, entry.id
        # Every place an entry is discussed in a box carries the number of the page showing that box.
        checked = 0
        for entry in real_register():
            if entry.id not in box_titles:
                continue
            after = text[text.index(plain(entry.question)):]
            # "Discussed in Life, p. 12; The Prison Manuscripts, p. 40." and then the next question
            where = re.search(r"Discussed in\s*(.*?)\.(?=\s+[A-Z]|\s*$)", after).group(1)
            printed = re.findall(r"p\.\s?(\w+)", where)
            assert printed, (entry.id, where)
            pages = [re.sub(r"[-\u2010] ?\n", "", pdf.pages[labels.index(label)].extract_text()).replace("\n", " ")
                     .replace("’", "'") for label in printed]
            assert any(box_titles[entry.id][:25] in page for page in pages), (entry.id, printed)
            checked += 1
        assert checked >= 20
