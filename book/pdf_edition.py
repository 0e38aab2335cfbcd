"""A PDF edition as an ordered list of parts, laid out part by part until its page numbers settle.

The parts that print other parts' page numbers (the contents, the who's who, the register, the
index) need those parts laid out first; the contents and the register need each other (the
register prints front-matter pages, the contents prints the register's). So layout goes in
rounds: each round lays out (in parallel) every part whose HTML changed and whose page numbers
are all known, and with them every part not laid out yet that prints a page of a later part
(whose pages wait on its own), with the numbers not yet known printed as "0"; those are laid
out again once their numbers are known. (One such part a round, the contents was laid out again
after each chapter: a cost that grew with the square of the book.) The result is the fixed point: every
part laid out from the page numbers of the others' final layouts, whatever was cached. A part's
layout does not depend on the page it starts on (each starts on a right-hand page): its folios
are renumbered when its start is known (book/pdf_parts.py).

A worker keeps a part's document until its PDF is written, and documents are large (some 20 MB
a chapter): so a part is written as soon as the layouts of the parts before it give its start,
and a document that printed a number not known yet (to be laid out again) is dropped at once.
That bounds a worker's memory to a few documents, whatever the length of the book. Should an
earlier part's page count change after all, the part is laid out and written again.
"""
from __future__ import annotations

from dataclasses import dataclass

from .pagemap import PageMap, page_labels, roman
from .pdf_cache import PartCache
from .pdf_join import BrokenLinks, PartPdf
from .pdf_parts import Part, PartLayout, make_parts

MAX_ROUNDS = 12
MISSING = "0"  # a page number not known yet (the part is laid out again once it is)


class PagesUnsettled(Exception):
    pass


@dataclass
class EditionSpec:
    """What an edition is made of: its paper, and its parts' HTML from the page numbers known.

    parts_for(labels, pages) returns the parts in book order; labels: id -> printed page number,
    pages: id -> page index in the book, for the ids whose pages are known."""
    paper: str
    parts_for: object
    cache: PartCache
    name: str = ""  # tells editions apart in the workers (default: the paper); e.g. "a4-teacher"

    def __post_init__(self):
        self.name = self.name or self.paper


@dataclass
class Placement:
    offsets: dict[str, int]  # part name -> index of its first page in the book
    blanks: dict[str, bool]  # part name -> a blank verso follows it
    first_main: int
    total: int


class EditionLayout:
    """The rounds of one edition. The driver (lay_out_editions) runs the jobs of all editions
    together in one pool."""

    def __init__(self, spec: EditionSpec):
        self.spec = spec
        self.paper = spec.paper
        self.name = spec.name
        self.layouts: dict[str, tuple[str, PartLayout]] = {}  # name -> (part key, its layout)
        self.held: dict[str, str] = {}  # name -> part key of the document a worker holds
        self.pdfs: dict[str, tuple[str, int, bytes]] = {}  # name -> (part key, start, PDF)
        self.parts: list[Part] = []
        self.settled = False
        self.rounds = 0
        self.writing = True  # False: the layouts alone are wanted (their PDFs are not written)
        self.provisional: set[str] = set()  # parts being laid out with a number not known yet

    # --- page numbers from the layouts so far ---------------------------------------------------

    def known(self) -> tuple[dict[str, str], dict[str, int]]:
        """labels (id -> printed number) and pages (id -> index in the book) that are known."""
        labels: dict[str, str] = {}
        pages: dict[str, int] = {}
        front = next((p for p in self.parts if not p.main), None)
        front_layout = self.layouts.get(front.name) if front else None
        first_main = None
        if front is None:
            first_main = 0
        elif front_layout is not None:
            first_main = front_layout[1].pages + front_layout[1].pages % 2
            for anchor, page in front_layout[1].anchors.items():
                labels.setdefault(anchor, roman(page + 1))
                pages.setdefault(anchor, page)
        arabic = 1
        for part in self.parts:
            if not part.main:
                continue
            laid = self.layouts.get(part.name)
            if laid is None:
                break  # the pages of every later part depend on this one's
            for anchor, page in laid[1].anchors.items():
                labels.setdefault(anchor, str(arabic + page))
                if first_main is not None:
                    pages.setdefault(anchor, first_main + arabic - 1 + page)
            arabic += laid[1].pages + laid[1].pages % 2
        return labels, pages

    def placement(self) -> Placement:
        offsets, blanks, offset, first_main = {}, {}, 0, None
        for number, part in enumerate(self.parts):
            pages = self.layouts[part.name][1].pages
            if part.main and first_main is None:
                first_main = offset
            offsets[part.name] = offset
            blanks[part.name] = bool(pages % 2) and number + 1 < len(self.parts)
            offset += pages + blanks[part.name]
        return Placement(offsets, blanks, first_main or 0, offset)

    def start_of(self, part: Part, placement: Placement) -> int:
        """The number the part's first page shows (its page counter's first value)."""
        return placement.offsets[part.name] - placement.first_main + 1 if part.main else 1

    # --- the rounds -------------------------------------------------------------------------------

    def next_jobs(self) -> list[tuple]:
        """The layouts of the next round ([] once the page numbers have settled)."""
        while True:
            labels, pages = self.known()
            self.parts = self.spec.parts_for(labels, pages)
            if not self.rounds:
                held = {anchor for part in self.parts for anchor in part.anchors}
                missing = sorted({t for part in self.parts for t in part.targets} - held)
                if missing:
                    raise BrokenLinks(missing)
            stale = [p for p in self.parts if self.layouts.get(p.name, ("",))[0] != p.key]
            if not stale:
                self.settled = True
                return []
            self.rounds += 1  # a look at the parts: a round of layout, or of cache hits
            if self.rounds > 4 * MAX_ROUNDS:
                raise PagesUnsettled(f"the page numbers of the {self.paper} edition did not settle after "
                                     f"{4 * MAX_ROUNDS} rounds: {', '.join(p.name for p in stale)}")
            cached = {p.name: self.spec.cache.load_layout(p.key) for p in stale}
            hits = {name: layout for name, layout in cached.items() if layout is not None}
            for part in stale:
                if part.name in hits:
                    self.layouts[part.name] = (part.key, hits[part.name])
            if hits:
                continue  # the numbers known may have changed: look again before laying out
            ready = {p.name for p in stale if all(anchor in pages for anchor in p.page_refs)}
            ready |= {p.name for p in self.blocking(stale)}  # they cannot wait: laid out alongside
            chosen = [p for p in stale if p.name in ready] or stale[:1]  # in book order: starts come early
            self.provisional |= {p.name for p in chosen if not p.page_refs <= labels.keys()}
            return [job for part in chosen for job in self.layout_jobs(part)]

    def blocking(self, stale: list[Part]) -> list[Part]:
        """The stale parts not laid out yet that print a page of a part after them (or of
        themselves): no order of layouts gives them their numbers first. Those that print only
        pages of earlier parts wait, since these layouts make their numbers known."""
        position = {part.name: number for number, part in enumerate(self.parts)}
        owner = {anchor: position[part.name] for part in self.parts for anchor in part.anchors}
        return [p for p in stale if p.name not in self.layouts
                and any(owner.get(anchor, len(self.parts)) >= position[p.name] for anchor in p.page_refs)]

    def layout_jobs(self, part: Part) -> list[tuple]:
        jobs = [("drop", self.paper, self.job_name(part.name))] if part.name in self.held else []
        self.held.pop(part.name, None)
        return jobs + [("layout", self.paper, self.job_name(part.name), part.markup, part.anchors)]

    def job_name(self, part: str) -> str:
        return f"{self.name}|{part}"

    def accept(self, job: tuple, result) -> list[tuple]:
        """Record a job's result; return the writes that can go out now (parts whose start is final)."""
        kind, name = job[0], job[2].partition("|")[2]
        part = next(p for p in self.parts if p.name == name)
        if kind == "layout":
            self.layouts[name] = (part.key, result)
            self.spec.cache.store_layout(part.key, result)
            if name in self.provisional or not self.writing:  # its PDF will not be wanted
                self.provisional.discard(name)
                return [("drop", self.paper, job[2])]
            self.held[name] = part.key
            return self.early_writes()
        if kind == "write":
            start = job[3]
            self.pdfs[name] = (part.key, start, result)
            self.spec.cache.store_pdf(part.key, start, result)
        elif kind == "layout+write":
            layout, data = result
            start = job[5]
            self.pdfs[name] = (part.key, start, data)
            self.spec.cache.store_pdf(part.key, start, data)
        return []

    def early_writes(self) -> list[tuple]:
        """Writes for the held documents whose start the layouts so far give (those of earlier
        parts may be provisional: they rarely change a page count). Writing them early keeps
        few documents in memory."""
        jobs, arabic = [], 1
        for part in self.parts:
            laid = self.layouts.get(part.name)
            if part.main and laid is None:
                break
            if self.held.get(part.name) == part.key:
                del self.held[part.name]
                jobs.append(("write", self.paper, self.job_name(part.name), arabic if part.main else 1))
            if part.main:
                arabic += laid[1].pages + laid[1].pages % 2
        return jobs

    def final_jobs(self) -> list[tuple]:
        """Once settled: the PDF of every part at its start, from the cache, a held document, or
        laid out again."""
        placement = self.placement()
        jobs = []
        for part in self.parts:
            start = self.start_of(part, placement)
            done = self.pdfs.get(part.name)
            if done is not None and done[:2] == (part.key, start):
                continue
            cached = self.spec.cache.load_pdf(part.key, start)
            if cached is not None:
                self.pdfs[part.name] = (part.key, start, cached)
            elif self.held.get(part.name) == part.key:
                del self.held[part.name]
                jobs.append(("write", self.paper, self.job_name(part.name), start))
            else:
                self.held.pop(part.name, None)
                jobs.append(("layout+write", self.paper, self.job_name(part.name), part.markup, part.anchors, start))
        return jobs

    def leftover_jobs(self) -> list[tuple]:
        """Drops for the documents still held (older versions of a part)."""
        jobs = [("drop", self.paper, self.job_name(name)) for name in self.held]
        self.held.clear()
        return jobs

    # --- the results ------------------------------------------------------------------------------

    def part_pdfs(self) -> list[PartPdf]:
        placement = self.placement()
        return [PartPdf(p.name, self.pdfs[p.name][2], placement.blanks[p.name]) for p in self.parts]

    def page_map(self) -> PageMap:
        """The edition's page map, put together from its parts' (as one document would give it)."""
        placement = self.placement()
        words: list[str] = []
        starts: list[int] = []
        anchors: dict[str, int] = {}
        for part in self.parts:
            layout = self.layouts[part.name][1]
            offset = placement.offsets[part.name]
            for anchor, page in layout.anchors.items():
                anchors.setdefault(anchor, offset + page)
            starts += [len(words) + start for start in layout.starts]
            words += layout.words
            if placement.blanks[part.name]:
                starts.append(len(words))
        return PageMap(page_labels(placement.total, placement.first_main), words, starts, anchors)

    def messages(self) -> tuple[list[str], list[str]]:
        """WeasyPrint's warnings and the refused URLs, from every part's layout."""
        messages, refused = [], []
        for part in self.parts:
            layout = self.layouts[part.name][1]
            messages += layout.messages
            refused += layout.refused
        return messages, refused


def lay_out_editions(editions: list[EditionLayout], pool, write: bool = True) -> None:
    """Run the rounds of every edition in one pool until all have settled, then (with `write`)
    have every part's PDF made."""
    by_name = {edition.name: edition for edition in editions}
    for edition in editions:
        edition.writing = write

    def then(job, result):
        return by_name[job[2].partition("|")[0]].accept(job, result)

    while True:
        jobs = [job for edition in editions if not edition.settled for job in edition.next_jobs()]
        if not jobs:
            break
        for _ in pool.run(jobs, then):
            pass
    if write:
        jobs = [job for edition in editions for job in edition.final_jobs()]
        for _ in pool.run(jobs, then):
            pass
    drops = [job for edition in editions for job in edition.leftover_jobs()]
    for _ in pool.run(drops):
        pass


def book_parts(view, print_html, index_for) -> object:
    """parts_for() of the book: its HTML with the index the known pages give, cut into parts.

    An indexed id whose page is not known yet gets a page of its own (negative, so never next
    to another), so that the index and the who's who print a reference to it, which makes them
    wait for its page."""
    rendered: dict[tuple, str] = {}

    def parts_for(labels: dict[str, str], pages: dict[str, int]) -> list[Part]:
        indexed = sorted({anchor for entry in view.index for anchor in entry.anchors})
        marks = {anchor: pages.get(anchor, -10 * (number + 1)) for number, anchor in enumerate(indexed)}
        index = index_for(marks)
        signature = tuple((e.heading, tuple(e.refs), tuple((t, tuple(r)) for t, r in e.group_refs)) for e in index)
        if signature not in rendered:
            rendered.clear()
            rendered[signature] = print_html(view, index)
        return make_parts(rendered[signature], labels, MISSING)

    return parts_for
