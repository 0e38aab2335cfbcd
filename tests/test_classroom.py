"""The classroom material as readers meet it: self-check questions closing each chapter with their
key at the back (PDF and EPUB), guide links that land where their printed page says, the teacher's
edition (the student's pages, page for page, then the teacher's notes), and the check's errors."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pdfplumber
import pikepdf
import pytest
import yaml
from lxml import etree, html
from pypdf import PdfReader

from book.config import ROOT
from book.pipeline import gather
from conftest import ROOTS, run_build

SAMPLE = ROOTS / "teacher-sample" / "01-life.yaml"  # teacher's notes for chapter 1, for the tests
SELFCHECK = sorted((ROOT / "chapters" / "selfcheck").glob("*.yaml"))
XHTML = {"x": "http://www.w3.org/1999/xhtml"}


def copy_book(tmp_path: Path, teacher: bool = False) -> Path:
    """The real book in a scratch folder (its last page guess too, to spare a layout)."""
    root = tmp_path / "book"
    for name in ("chapters", "sources", "styles"):
        shutil.copytree(ROOT / name, root / name)
    if (ROOT / ".cache").is_dir():
        shutil.copytree(ROOT / ".cache", root / ".cache")
    if teacher:  # the sample's notes for chapter 1 alone, in place of the book's
        shutil.rmtree(root / "chapters" / "teacher", ignore_errors=True)
        (root / "chapters" / "teacher").mkdir()
        shutil.copyfile(SAMPLE, root / "chapters" / "teacher" / "01-life.yaml")
    return root


def outline_pages(reader: PdfReader) -> dict[str, int]:
    return {item.title: reader.get_destination_page_number(item) for item in reader.outline
            if not isinstance(item, list)}


def page_texts(path: Path) -> list[str]:
    with pdfplumber.open(path) as pdf:
        return [page.extract_text() or "" for page in pdf.pages]


def printed_page_refs(path: Path):
    """Every link whose own box ends in a page number ("… (p. 12)", "Answer, p. 55"): the number
    printed and the label of the page the link leads to."""
    with pikepdf.open(path) as pdf, pdfplumber.open(path) as plumber:
        labels = PdfReader(path).page_labels
        names = pikepdf.NameTree(pdf.Root.Names.Dests)
        page_index = {page.objgen: number for number, page in enumerate(pdf.pages)}
        for number, page in enumerate(pdf.pages):
            height = float(page.mediabox[3])
            for annotation in page.obj.get("/Annots", []):
                if annotation.get("/Subtype") != "/Link" or "/Dest" not in annotation:
                    continue
                dest = annotation.Dest
                target = names[str(dest)] if isinstance(dest, pikepdf.String) else dest
                target = target.D if isinstance(target, pikepdf.Dictionary) else target
                x0, y0, x1, y1 = (float(v) for v in annotation.Rect)
                x0, x1, y0, y1 = min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)
                box = (max(x0 - 1, 0), max(height - y1, 0), x1 + 1, min(height - y0, height))
                # Only what lies wholly inside the box: the link's own text, not the next word's first letter.
                text = plumber.pages[number].within_bbox(box).extract_text() or ""
                match = re.search(r"p\.\s*([0-9ivxlc]+)\)?[.,;:]?\s*$", text)  # the box may take the stop after
                if match:
                    yield str(dest), match.group(1), labels[page_index[target[0].objgen]]


# The student's edition ------------------------------------------------------------------------

def test_every_chapter_has_8_to_12_self_check_questions():
    assert [p.stem for p in SELFCHECK] == [p.stem for p in sorted((ROOT / "chapters").glob("0*.md"))]


def test_the_pdf_closes_each_chapter_with_its_questions_and_keys_them_at_the_back(book):
    reader = PdfReader(book.pdf("a4"))
    starts = outline_pages(reader)
    texts = page_texts(book.pdf("a4"))
    chapters = ["Life", "The Permanent-Revolution Polemic", "The Industrialisation Debate",
                "The Prison Manuscripts", "Koestler and the Reception"]
    ends = [starts[title] for title in chapters[1:]] + [starts["Answers to the Self-Check Questions"]]
    for title, start, end in zip(chapters, (starts[t] for t in chapters), ends):
        text = "\n".join(texts[start:end])
        questions = text.index("Discussion questions")
        check = text.index("Check your understanding")
        assert questions < check, title
        assert len(re.findall(r"^Answer, p\. \d+$", text[check:], re.M)) >= 8, title
    key = "\n".join(texts[starts["Answers to the Self-Check Questions"]:starts["Timeline"]])
    asked = sum(len(re.findall(r"^\s*- kind:", p.read_text(), re.M)) for p in SELFCHECK)
    assert len(re.findall(r"Question \d+, p\. \d+", key)) == asked
    assert not any("Teacher’s Notes" in t or "Teacher’s edition" in t for t in texts)


def test_every_printed_page_reference_is_the_page_its_link_leads_to(book):
    checked = {"guide": 0, "key": 0, "question": 0}
    wrong = []
    for dest, printed, actual in printed_page_refs(book.pdf("a4")):
        kind = "key" if dest.startswith("answer") else "question" if dest.startswith("selfcheck-") else "guide"
        checked[kind] += 1
        if printed != actual:
            wrong.append((dest, printed, actual))
    assert wrong == []
    asked = sum(len(re.findall(r"^\s*- kind:", p.read_text(), re.M)) for p in SELFCHECK)
    # Each question links to its answer and back; each explanation to its passage in the guide.
    assert checked["key"] >= asked and checked["question"] >= asked and checked["guide"] >= asked


def test_the_epub_closes_each_chapter_with_its_questions_and_every_link_resolves(book):
    files = book.epub_files()
    trees = {name: etree.fromstring(data) for name, data in files.items() if name.endswith(".xhtml")}
    ids = {name: set(tree.xpath("//@id")) for name, tree in trees.items()}
    for number in range(1, 6):
        chapter = trees[f"EPUB/chapter-{number}.xhtml"]
        order = [e.get("id") for e in chapter.iter() if e.get("id")]
        [slug] = {i.removesuffix("-questions") for i in order if i.endswith("-questions")}
        assert order.index(f"{slug}-questions") < order.index(f"{slug}-selfcheck")
        items = chapter.xpath("//x:li[@class='selfcheck-item']", namespaces=XHTML)
        assert 8 <= len(items) <= 12
    key = trees["EPUB/answers.xhtml"]
    links = key.xpath("//x:a[contains(@class, 'guide-ref') or contains(@class, 'question-ref')]", namespaces=XHTML)
    assert len(links) >= 2 * 40
    for link in links + [a for n in range(1, 6) for a in trees[f"EPUB/chapter-{n}.xhtml"].xpath(
            "//x:a[@class='key-ref']", namespaces=XHTML)]:
        file, _, anchor = link.get("href").partition("#")
        assert anchor in ids[f"EPUB/{file}"], link.get("href")
    assert not any("Teacher’s Notes".encode() in data for data in files.values())


def test_passage_anchors_keep_their_ids_in_every_output(book):
    chapter = etree.fromstring(book.epub_files()["EPUB/chapter-1.xhtml"])
    assert chapter.xpath("//*[@id='life-execution']") and chapter.xpath("//*[@id='life-testament']")
    with pikepdf.open(book.pdf("a4")) as pdf:
        names = {str(name) for name, _ in pikepdf.NameTree(pdf.Root.Names.Dests).items()}
    assert {"life-execution", "life-testament", "life-a-moscow-childhood"} <= names


# The teacher's edition ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def teacher_edition(tmp_path_factory):
    root = copy_book(tmp_path_factory.mktemp("teacher"))  # with the book's own teacher's notes
    return run_build(root, root / "dist", targets=("teacher",))


def chapter_questions(path: Path) -> list[str]:
    return yaml.safe_load(path.read_text().split("---")[1])["questions"]


def test_the_teacher_edition_is_the_students_page_for_page_then_the_notes(book, teacher_edition):
    slug = teacher_edition.slug
    for paper in ("a4", "letter"):
        assert (teacher_edition.out / f"{slug}-teacher-{paper}.pdf").is_file()
    student = page_texts(book.pdf("a4"))
    teacher = page_texts(teacher_edition.out / f"{slug}-teacher-a4.pdf")
    assert len(teacher) > len(student)
    differ = [n for n in range(len(student)) if teacher[n] != student[n]]
    assert len(differ) == 1 and "teacher’s edition" in teacher[differ[0]].lower()  # the title page alone
    notes = "\n".join(teacher[len(student):])
    assert notes.startswith("Teacher’s Notes") or "\nTeacher’s Notes" in notes[:200]
    flat = re.sub(r"\s+", " ", notes).replace("’", "'")
    chapters = sorted((ROOT / "chapters").glob("0*.md"))
    open_points = 0
    for number, chapter in enumerate(chapters, start=1):
        title = yaml.safe_load(chapter.read_text().split("---")[1])["title"]
        start = flat.index(f"Chapter {number}: {title}")  # every chapter has its notes, in order
        end = flat.find(f"Chapter {number + 1}: ", start) if number < len(chapters) else len(flat)
        for question_number, question in enumerate(chapter_questions(chapter), start=1):
            words = " ".join(question.replace("*", "").replace("’", "'").split())[:40]
            assert f"Question {question_number}. {words}" in flat[start:end], (chapter.name, question_number)
        notes_file = ROOT / "chapters" / "teacher" / f"{chapter.stem}.yaml"
        open_points += sum(1 for q in yaml.safe_load(notes_file.read_text())["questions"] if q.get("open"))
    assert flat.count("Left open:") == open_points


def test_the_teacher_notes_page_references_are_the_students_pages(teacher_edition):
    path = teacher_edition.out / f"{teacher_edition.slug}-teacher-a4.pdf"
    refs = list(printed_page_refs(path))
    assert [r for r in refs if r[1] != r[2]] == []
    # Each question repeated links to its chapter's questions, and every point to the guide.
    for chapter in sorted((ROOT / "chapters").glob("0*.md")):
        slug = chapter.stem.split("-", 1)[1]
        assert sum(1 for dest, _, _ in refs if dest == f"{slug}-questions") == len(chapter_questions(chapter))
    assert len(refs) > 200


def test_a_chapter_without_teacher_notes_is_a_warning(tmp_path):
    missing = [d for d in gather(copy_book(tmp_path, teacher=True)).report.items if d.code == "teacher.missing"]
    assert len(missing) == 4 and all(d.severity == "warning" for d in missing)


# The check --------------------------------------------------------------------------------------

def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if needle in line)


def test_a_broken_guide_link_is_an_error_at_its_file_and_line(tmp_path):
    root = copy_book(tmp_path)
    selfcheck = root / "chapters" / "selfcheck" / "01-life.yaml"
    selfcheck.write_text(selfcheck.read_text().replace("(#life-execution)", "(#life-executed)"))
    chapter = root / "chapters" / "01-life.md"
    chapter.write_text(chapter.read_text().replace("He later told a revealing story",
                                                   "He later told a [revealing](#life-nowhere) story"))
    done = subprocess.run([sys.executable, str(ROOT / "build.py"), "check", "--root", str(root)],
                          capture_output=True, text=True)
    assert done.returncode == 1
    lines = done.stdout + done.stderr  # one diagnostic a line (cli prints them unwrapped)
    text = selfcheck.read_text().splitlines()
    linked = next(n for n, line in enumerate(text) if "#life-executed" in line)
    key = max(n for n in range(linked + 1) if text[n].strip().startswith("explanation:")) + 1
    assert f"chapters/selfcheck/01-life.yaml:{key}: error: no place in the guide has the id 'life-executed'" in lines
    at = line_of(chapter, "#life-nowhere")
    assert any(l.startswith(f"chapters/01-life.md:{at}:") and "'life-nowhere'" in l and "[link.target]" in l
               for l in lines.splitlines())


def test_teacher_notes_must_match_the_chapter_and_fill_fifty_minutes(tmp_path):
    root = copy_book(tmp_path, teacher=True)
    notes = root / "chapters" / "teacher" / "01-life.yaml"
    text = notes.read_text()
    last = text.rindex("  - points:")
    notes.write_text(text[:last].replace("- minutes: 10", "- minutes: 12", 1))
    report = gather(root).report
    found = {(d.code, d.file, d.line) for d in report.errors}
    assert ("teacher.questions", "chapters/teacher/01-life.yaml", line_of(notes, "questions:")) in found
    assert ("teacher.minutes", "chapters/teacher/01-life.yaml", line_of(notes, "steps:")) in found


def test_a_wrong_answer_number_and_an_unknown_source_are_errors(tmp_path):
    root = copy_book(tmp_path, teacher=True)
    selfcheck = root / "chapters" / "selfcheck" / "02-permanent-revolution.yaml"
    selfcheck.write_text(selfcheck.read_text().replace("    answer: 2\n", "    answer: 5\n", 1))
    notes = root / "chapters" / "teacher" / "01-life.yaml"
    notes.write_text(notes.read_text().replace("source: trial-record", "source: trial-records"))
    found = {(d.code, d.file, d.line) for d in gather(root).report.errors}
    assert ("selfcheck.answer", "chapters/selfcheck/02-permanent-revolution.yaml",
            line_of(selfcheck, "answer: 5")) in found
    assert ("teacher.source", "chapters/teacher/01-life.yaml", line_of(notes, "trial-records")) in found
