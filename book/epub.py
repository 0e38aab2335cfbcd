"""The EPUB 3 writer: one XHTML file per part, pop-up footnotes, nav, NCX, landmarks and a cover.

ebooklib assembles the package; this module decides the files, rewrites links across them,
turns pandoc's notes into noteref/aside pairs per file, gives every part its role, and repacks the
archive so that the same input gives the same bytes (fixed timestamps, mimetype first and stored,
fixed order). On the way it subsets the fonts and finishes the package for accessibility (epub_a11y).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from ebooklib import epub
from lxml import html
from markupsafe import escape

from . import cache
from .cover import cover_png
from .diagnostics import Report
from .epub_files import work_files
from .epub_render import rendered
from .epub_pages import add_page_list
from .epub_a11y import (APPLE_DISPLAY_OPTIONS, APPLE_DISPLAY_OPTIONS_PATH, add_accessibility_metadata, finish_nav,
                        finish_package)
from .font_subset import characters_used, subset_font
from .memo import Memo, collections_paused
from .html import note_content, note_paragraphs, note_refs, remove_keeping_tail
from .model import BACK_MATTER, BookView
from .paths import image_file
from .pagemap import PAGE_SOURCE, PageMap, one_per_page
from .templates import MANY_PAGES, environment, index_groups

FONT_FILES = ["LinLibertine_R.otf", "LinLibertine_RI.otf", "LinLibertine_RB.otf", "LinLibertine_RBI.otf",
              "LinBiolinum_R.otf", "LinBiolinum_RB.otf"]
FONT_LICENCE = ("OFL-1.1.txt", "style/fonts/OFL.txt")

# The back matter's semantics for reading systems (epub:type) and assistive technology (DPUB-ARIA role).
BACK_MATTER_ROLES = {"answers": ("appendix", "doc-appendix"), "timeline": ("appendix", "doc-appendix"), "people": ("appendix", "doc-appendix"),
                     "glossary": ("glossary", "doc-glossary"), "disagreements": ("appendix", "doc-appendix"),
                     "sources": ("bibliography", "doc-bibliography"),
                     "index": ("index", "doc-index")}


@dataclass
class Page:
    file_name: str
    title: str
    body: str  # HTML of the body's content
    kind: str = ""  # landmark hint: "cover", "bodymatter", ...


def pages_of(view: BookView, page_map: PageMap) -> list[Page]:
    env = environment()
    index = one_per_page(view.index, page_map.anchors)  # page references in the print edition
    context = dict(config=view.config, year=view.year, events=view.events, people=view.people,
                   terms=view.terms, sources=view.sources, conflicts=view.conflicts, index_groups=index_groups(index),
                   index_by_heading={e.heading: e for e in index}, paged=False, many=MANY_PAGES,
                   page_label=page_map.label_of, chapters=view.chapters)
    pages = [
        Page("cover.xhtml", "Cover", '<section class="cover" epub:type="cover"><img src="images/cover.png" '
             f'alt="Cover: {escape(view.config.title)}, {escape(view.config.subtitle)}"/></section>', "cover"),
        Page("title.xhtml", "Title Page", rendered(env, "epub/title.html.j2", context, page_map), "titlepage"),
    ]
    for part in view.front:
        pages.append(Page(f"{part.slug}.xhtml", part.title,
                          env.get_template("epub/part.html.j2").render(part=part, **context)))
    for part in view.chapters:
        pages.append(Page(f"chapter-{part.number}.xhtml", f"{part.number}. {part.title}",
                          env.get_template("epub/part.html.j2").render(part=part, **context),
                          "bodymatter" if part.number == 1 else ""))
    for item in BACK_MATTER:
        # Remembered in --watch: the index, the people and the disagreements take longest.
        pages.append(Page(f"{item['id']}.xhtml", item["title"],
                          rendered(env, f"{item['id']}.html.j2", context, page_map)))
    return pages


def mark_back_matter(trees: dict[str, html.HtmlElement]) -> None:
    """The shared templates carry no EPUB semantics (the PDF does not need them): add them here."""
    for name, tree in trees.items():
        mark_back_matter_of(name, tree)


def mark_back_matter_of(file_name: str, tree: html.HtmlElement) -> None:
    for item in BACK_MATTER:
        if file_name == f"{item['id']}.xhtml":
            epub_type, role = BACK_MATTER_ROLES[item["id"]]
            section = tree.find("section")
            section.set("epub:type", epub_type)
            section.set("role", role)
            section.set("aria-label", item["title"])


def place_notes(pages: list[Page], view: BookView) -> dict[str, html.HtmlElement]:
    """Per file: number the notes 1, 2, …; make each call a noteref and each note an aside."""
    trees = {}
    for page in pages:
        root = html.fragment_fromstring(page.body, create_parent="div")
        # New elements are made in the page's own document (root.makeelement): one made on its
        # own brings a document of its own, merged into the page's when it is inserted.
        refs = note_refs(root)
        stem = page.file_name.removesuffix(".xhtml")
        asides = []
        for number, ref in enumerate(refs, start=1):
            note = note_content(view.notes, ref)
            call = root.makeelement("a", {"href": f"#{stem}-note-{number}", "id": f"{stem}-ref-{number}",
                                          "epub:type": "noteref", "role": "doc-noteref", "class": "noteref"})
            call.text = str(number)
            sup = root.makeelement("sup", {})
            sup.append(call)
            sup.tail = ref.tail
            ref.getparent().replace(ref, sup)
            aside = root.makeelement("aside", {"id": f"{stem}-note-{number}", "epub:type": "footnote",
                                               "role": "doc-footnote", "class": "footnote"})
            paragraphs = note_paragraphs(note)
            back = root.makeelement("a", {"href": f"#{stem}-ref-{number}", "role": "doc-backlink",
                                          "class": "note-number"})
            back.text = f"{number}."
            first = paragraphs[0]
            back.tail = " " + (first.text or "")
            first.text = None
            first.insert(0, back)
            for paragraph in paragraphs:
                paragraph.tag = "p"
                aside.append(paragraph)
            asides.append(aside)
        if asides:
            # The part's notes close the part: a section with a heading of its own, for navigation by
            # heading and by landmark; each note stays an aside so that reading systems pop it up.
            notes = root.makeelement("section", {"class": "notes", "epub:type": "endnotes", "role": "doc-endnotes",
                                                 "aria-labelledby": f"{stem}-notes"})
            heading = root.makeelement("h2", {"class": "notes-title", "id": f"{stem}-notes"})
            heading.text = "Notes"
            notes.append(heading)
            notes.extend(asides)
            sections = root.findall("section")
            (sections[0] if len(sections) == 1 else root).append(notes)
        trees[page.file_name] = root
    return trees


def resolve_links(trees: dict[str, html.HtmlElement]) -> None:
    """href="#id" pointing into another file becomes "file.xhtml#id"."""
    home = {}
    for file_name, root in trees.items():
        for element in root.xpath(".//*[@id]"):
            home.setdefault(element.get("id"), file_name)
    for file_name, root in trees.items():
        link_across(root, file_name, home)


def link_across(root: html.HtmlElement, file_name: str, home: dict[str, str]) -> None:
    """One file's links into other files (home: id -> file) made "file.xhtml#id"."""
    for link in root.xpath(".//a[starts-with(@href, '#')]"):
        target = link.get("href")[1:]
        if home.get(target, file_name) != file_name:
            link.set("href", f"{home[target]}#{target}")


@collections_paused()
def write_epub(view: BookView, root: Path, report: Report, page_map: PageMap) -> tuple[bytes, int]:
    """The EPUB, carrying the page numbers of the print edition that page_map describes."""
    config = view.config
    book = epub.EpubBook()
    book.set_identifier(config.identifier)
    book.set_title(config.title if not config.subtitle else f"{config.title}: {config.subtitle}")
    book.set_language(config.language)
    book.add_author(config.author)
    book.add_metadata("DC", "description", config.description)
    book.add_metadata("DC", "date", config.date.isoformat())
    book.add_metadata("DC", "publisher", config.publisher or config.author)
    book.add_metadata("DC", "rights", config.licence)
    add_accessibility_metadata(book, certified_by=config.publisher or config.author)
    for subject in filter(None, (s.strip() for s in config.subject.split(";"))):
        book.add_metadata("DC", "subject", subject)
    edition = f"{book.title}, A4 PDF edition ({config.slug}-{PAGE_SOURCE}.pdf)"
    book.add_metadata("DC", "source", edition)
    book.add_metadata(None, "meta", edition, {"property": "pageBreakSource"})

    css = (root / "styles" / "fonts.css").read_text(encoding="utf-8") + (root / "styles" / "epub.css").read_text(encoding="utf-8")
    book.add_item(epub.EpubItem(uid="style", file_name="style/book.css", media_type="text/css", content=css.encode()))
    for index, name in enumerate(FONT_FILES):
        book.add_item(epub.EpubItem(uid=f"font-{index}", file_name=f"style/fonts/{name}", media_type="font/otf",
                                    content=(root / "styles" / "fonts" / name).read_bytes()))
    book.add_item(epub.EpubItem(uid="font-licence", file_name=FONT_LICENCE[1], media_type="text/plain",
                                content=(root / "styles" / "fonts" / FONT_LICENCE[0]).read_bytes()))
    # The cover's picture goes in last (below), so that a cover drawn by its own process while
    # this one works (book/cover.py) is waited for as late as can be; the item keeps its place.
    book.set_cover("images/cover.png", b"", create_page=False)

    pages = pages_of(view, page_map)
    # Notes, page markers, roles, links and pictures, file by file (remembered in --watch).
    finished, markers, images = work_files(pages, view, page_map, root, report)
    for number, (name, data) in enumerate(images):
        book.add_item(epub.EpubImage(uid=f"image-{number}", file_name=f"images/{name}", content=data))
    items = {}
    for page, done in zip(pages, finished):
        item = Document(title=page.title, file_name=page.file_name, lang=config.language, content=done.content)
        item.add_link(href="style/book.css", rel="stylesheet", type="text/css")
        book.add_item(item)
        items[page.file_name] = item
    nav = epub.EpubNav(title="Contents")
    nav.add_link(href="style/book.css", rel="stylesheet", type="text/css")
    book.add_item(nav)
    book.add_item(epub.EpubNcx())

    spine_pages = [items[p.file_name] for p in pages]
    book.spine = [spine_pages[0], spine_pages[1], nav, *spine_pages[2:]]
    book.toc = [toc_entry(items[p.file_name], done.sections) for p, done in list(zip(pages, finished))[2:]]
    book.guide = [{"type": "cover", "href": "cover.xhtml", "title": "Cover"},
                  {"type": "toc", "href": "nav.xhtml", "title": "Contents"},
                  {"type": "text", "href": next(p.file_name for p in pages if p.kind == "bodymatter"),
                   "title": "Start of Text"},
                  {"type": "glossary", "href": "glossary.xhtml", "title": "Glossary"},
                  {"type": "index", "href": "index.xhtml", "title": "Index"}]

    book.get_item_with_id("cover-img").content = cover_png(config, root)
    modified = dt.datetime.combine(config.date, dt.time(12))
    writer = FilesWriter(None, book, {"mtime": modified, "raise_exceptions": True, "epub3_landmark": True,
                                      "landmark_title": "Landmarks", "epub3_pages": False})
    writer.process()
    files = writer.write()
    start_kepub(files)
    files = finish(files, config.language, css, markers, root)
    return repack(files, config.date), len(files)


def start_kepub(files: dict[str, bytes]) -> None:
    """The kepub (book/kepub.py) is made of the content documents, which are done by now: a worker
    starts on them while this process finishes the EPUB (fonts, archive)."""
    from .kepub import content_documents, transform_ahead  # book/kepub.py imports this module

    documents = content_documents(files)
    transform_ahead([content for name, content in files.items() if name in documents])


class FilesWriter(epub.EpubWriter):
    """ebooklib's writer, writing the package's files into a dict: repack() makes the one archive, so
    nothing is compressed only to be read back and compressed again."""

    def write(self) -> dict[str, bytes]:
        self.out = _Files()
        self.out.writestr("mimetype", "application/epub+zip")
        self._write_container()
        self._write_opf()
        self._write_items()
        return self.out.files


class _Files:
    """What ebooklib's writer needs of a ZipFile: writestr, as zipfile stores it (text as UTF-8)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def writestr(self, name: str, data, compress_type=None) -> None:
        self.files[name] = data.encode("utf-8") if isinstance(data, str) else data


class Document(epub.EpubHtml):
    """ebooklib's XHTML document, whose markup (ebooklib parses the content and writes it out again)
    is made once per content: in --watch an edit changes one document and the others are done."""

    def get_content(self, default=None):
        if not cache.enabled():
            return super().get_content(default)
        key = cache.key(self.book.get_template(self._template_name), self.lang or self.book.language, self.title,
                        self.metas, self.links, self.direction or "", self.content)
        return _DOCUMENTS.get(key, lambda: super(Document, self).get_content(default))


_DOCUMENTS = Memo(32 << 20)  # cache key -> the document's bytes as ebooklib writes them


def finish(files: dict[str, bytes], language: str, css: str, markers: list,
           root: Path | None = None) -> dict[str, bytes]:
    """The package's files, finished where ebooklib stops: the package's language, a hidden landmarks
    list, the print edition's page list, Apple Books' request for the book's fonts, and fonts cut
    down to the characters in use."""
    files = dict(files)
    files["EPUB/content.opf"] = finish_package(files["EPUB/content.opf"], language)
    files["EPUB/nav.xhtml"] = add_page_list(finish_nav(files["EPUB/nav.xhtml"]), markers)
    files[APPLE_DISPLAY_OPTIONS_PATH] = APPLE_DISPLAY_OPTIONS
    used = characters_in([content for name, content in sorted(files.items()) if name.endswith(".xhtml")], css)
    for name in FONT_FILES:
        files[f"EPUB/style/fonts/{name}"] = subset_of(files[f"EPUB/style/fonts/{name}"], used, root)
    return files


def characters_in(documents: list[bytes], css: str) -> set[int]:
    """characters_used, worked out per document and remembered (an edit changes one document): the
    characters of the whole are those of its parts, and so are their capitals and small letters,
    except for a capital sigma, whose small letter depends on the letters around it."""
    if not cache.enabled() or any("Σ".encode() in document for document in documents):
        return characters_used(documents, css)
    used: set[int] = set()
    for document in documents:
        used |= _CHARACTERS.get(cache.key("characters", document, css),
                                lambda: frozenset(characters_used([document], css)))  # noqa: B023 (called here)
    return used


def subset_of(font: bytes, used: set[int], root: Path | None) -> bytes:
    """subset_font, remembered for the process: an edit seldom brings a new character."""
    if not cache.enabled():
        return subset_font(font, used, root)
    # The book's folder too: a book seen for the first time gets its entry in .cache/fonts written.
    return _SUBSETS.get(cache.key("subset", str(root), font, sorted(used)), lambda: subset_font(font, used, root))


_CHARACTERS = Memo(8 << 20, lambda characters: 100 * len(characters))  # a document's key -> the characters it needs
_SUBSETS = Memo(8 << 20)  # the key of a font and the characters -> the subset


def embed_images(trees, root: Path, view: BookView, report: Report) -> list[tuple[str, bytes]]:
    """Images the chapters use: files inside the book are packed; anything else is refused."""
    packed: dict[str, bytes] = {}
    for tree in trees.values():
        for image in tree.xpath(".//img[not(ancestor::section[@class='cover'])]"):
            src = image.get("src", "")
            path = image_file(root, src)
            if path is None:
                report.warning("fetch.refused", f"refused to load {src}: the build reads only files inside the "
                               "book's folder and never the network; remove it or copy the file into the book",
                               **view.locate(src))
                remove_keeping_tail(image)
                continue
            packed[path.name] = path.read_bytes()
            image.set("src", f"images/{path.name}")
    return sorted(packed.items())


def toc_entry(item: epub.EpubHtml, headings: list[tuple[str, str]]):
    """A chapter with its sections (id, heading) as a nested list in the contents; other pages as one line."""
    sections = [epub.Link(f"{item.file_name}#{heading_id}", heading, f"{item.id}-{heading_id}")
                for heading_id, heading in headings]
    return (epub.Section(item.title, href=item.file_name), sections) if sections else item


def repack(files: dict[str, bytes], date: dt.date) -> bytes:
    """The files as an archive with fixed timestamps and order: mimetype first, stored, uncompressed."""
    stamp = (date.year, date.month, date.day, 12, 0, 0)
    names = sorted(files, key=lambda n: (n != "mimetype", n != "META-INF/container.xml", n))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in names:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            content = files[name]
            if info.compress_type == zipfile.ZIP_STORED or not cache.enabled():
                target.writestr(info, content)
                continue
            info.file_size = len(content)  # as writestr sets it
            with target.open(info, "w") as member:
                # zipfile's own compressor would deflate the content again; this one hands over
                # the bytes deflated before, which are the same (zlib is deterministic).
                member._compressor = _Deflated(deflated(content))
                member.write(content)
    data = out.getvalue()
    if cache.enabled():
        _PACKED.clear()
        _PACKED[hashlib.sha256(data).digest()] = ({name: files[name] for name in names}, stamp)
    return data


def packed_files(data: bytes) -> tuple[dict[str, bytes], tuple] | None:
    """The files (in the archive's order) and time stamp of the archive repack() made last, if data is it."""
    if not cache.enabled():
        return None
    known = _PACKED.get(hashlib.sha256(data).digest())
    return (dict(known[0]), known[1]) if known else None


_PACKED: dict[bytes, tuple[dict[str, bytes], tuple]] = {}  # the last archive: SHA-256 -> (files, stamp)


def deflated(content: bytes) -> bytes:
    """The content deflated as zipfile deflates it; remembered, as an edit changes few of the files."""
    def deflate():
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        return compressor.compress(content) + compressor.flush()

    return _DEFLATED.get(hashlib.sha256(content).digest(), deflate)


_DEFLATED = Memo(32 << 20)  # SHA-256 of a member's content -> its deflated bytes


class _Deflated:
    """A compressor for zipfile that returns bytes deflated earlier (see repack)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def compress(self, content: bytes) -> bytes:
        return b""

    def flush(self) -> bytes:
        return self.data
