"""The classroom material as plain data for the templates: each chapter's self-check questions,
and the teacher's notes (which only the teacher's edition prints)."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from string import ascii_lowercase

from lxml import html
from markupsafe import Markup

from .html import RenderedHTML, inner_html

KINDS = {"choice": "Choose one", "order": "Dates in order", "who": "Who said it"}


@dataclass
class SelfCheckView:
    slug: str
    number: int  # 1, 2, … within its chapter
    kind: str  # "choice", "order" or "who"
    question: str  # HTML
    options: list[str]  # HTML
    answer: int  # the right option, from 1
    explanation: str  # HTML; links into the guide carry class "guide-ref"

    @property
    def anchor(self) -> str:  # the question, at the chapter's end
        return f"selfcheck-{self.slug}-{self.number}"

    @property
    def answer_anchor(self) -> str:  # its answer, in the key at the back
        return f"answer-{self.slug}-{self.number}"

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]

    @property
    def letter(self) -> str:
        return ascii_lowercase[self.answer - 1]

    @property
    def right(self) -> str:
        return self.options[self.answer - 1]

    @property
    def right_sentence(self) -> Markup:
        """The right option as a sentence of the key: with one full stop, not two."""
        right = Markup(self.right)
        return right if right.striptags().rstrip().endswith((".", "?", "!")) else right + Markup(".")


@dataclass
class GuidanceView:
    number: int
    question: str  # HTML: the discussion question, repeated
    points: list[str]  # HTML
    open: str = ""


@dataclass
class TeacherView:
    slug: str
    number: int
    title: str
    aim: str
    steps: list[tuple[int, str]]  # (minutes, HTML)
    read_aloud: Markup  # "Simkin, “Nikolay Bukharin,” para. 14"
    read_aloud_why: str
    read_aloud_source: str
    questions: list[GuidanceView] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return f"teacher-{self.slug}"


@lru_cache(maxsize=8192)  # --watch: the same markup (the same string) from build to build
def guide_links(markup: str) -> Markup:
    """Links to a place in the guide get class guide-ref: the PDF prints the page after them."""
    if 'href="#' not in markup:
        return Markup(markup)
    root = html.fragment_fromstring(markup or "", create_parent="div")
    for link in root.xpath('.//a[starts-with(@href, "#")]'):
        classes = (link.get("class") or "").split()
        if not {"footnote-ref", "gloss", "ix"} & set(classes):
            link.set("class", " ".join(classes + ["guide-ref"]))
    return Markup(inner_html(root))


def with_pages(markup: str, page_label) -> Markup:
    """The EPUB and the web: each guide link followed by the print edition's page, as the PDF
    prints it (so that the two editions' words, and their page-break markers, agree)."""
    if 'guide-ref' not in markup:
        return Markup(markup)
    root = html.fragment_fromstring(markup, create_parent="div")
    for link in root.xpath('.//a[contains(concat(" ", @class, " "), " guide-ref ")]'):
        label = page_label(link.get("href", "#")[1:])
        if label:
            link.tail = f" (p.\u00a0{label})" + (link.tail or "")
    return Markup(inner_html(root))


def selfcheck_views(book, rendered: RenderedHTML) -> dict[str, list[SelfCheckView]]:
    """chapter slug -> its self-check questions."""
    views = {}
    for slug, loaded in book.classroom.selfcheck.items():
        views[slug] = [SelfCheckView(slug, n + 1, q.kind, rendered.inline(f"selfq-{slug}-{n}"),
                                     [rendered.inline(f"selfopt-{slug}-{n}-{j}") for j in range(len(q.options))],
                                     q.answer, guide_links(rendered.inline(f"selfexp-{slug}-{n}")))
                       for n, q in enumerate(loaded.data.questions)]
    return views


def teacher_views(book, rendered: RenderedHTML, chapters) -> list[TeacherView]:
    """The teacher's notes of every chapter that has them, in book order."""
    from .model import side_citation

    views = []
    for part in chapters:
        loaded = book.classroom.teacher.get(part.slug)
        if loaded is None:
            continue
        slug, seminar = part.slug, loaded.data.seminar
        extract = seminar.read_aloud
        source = book.sources.get(extract.source)
        view = TeacherView(
            slug, part.number, part.title, guide_links(rendered.inline(f"teachplan-{slug}-aim")),
            [(step.minutes, guide_links(rendered.inline(f"teachplan-{slug}-step-{k}")))
             for k, step in enumerate(seminar.steps)],
            side_citation(source.meta, "", extract.paragraphs) if source else Markup(""),
            guide_links(rendered.inline(f"teachplan-{slug}-why")), extract.source)
        for i, guidance in enumerate(loaded.data.questions):
            question = part.questions[i] if i < len(part.questions) else Markup("")
            view.questions.append(GuidanceView(
                i + 1, question, [guide_links(rendered.inline(f"teachpoint-{slug}-{i}-{j}"))
                                  for j in range(len(guidance.points))],
                guide_links(rendered.inline(f"teachopen-{slug}-{i}")) if guidance.open else ""))
        views.append(view)
    return views
