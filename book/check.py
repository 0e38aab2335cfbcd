"""The checks every build runs: citations resolve, quotations match their sources, facts are cited.

They read pandoc's AST of the whole book (one parse) and the source registry. Every problem
becomes a Diagnostic that points at the line the editor wrote.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .convert import Snippet
from .diagnostics import Report
from .quotes import fragments, nearest, occurs_in
from .sources import Source

CITE_MARK = "\ue000"  # stands for a citation inside a paragraph's flattened text
QUOTATION = re.compile(r"“([^“”]*)”")
LOCATOR = re.compile(r"\bparas?\.?\s*(\d+(?:\s*[-–]\s*\d+)?(?:\s*,\s*\d+(?:\s*[-–]\s*\d+)?)*)")
# A whole locator: ", para. 12", ", paras. 3, 7–9" (nothing else may follow the key).
WHOLE_LOCATOR = re.compile(r"\s*,?\s*paras?\.\s*[1-9]\d*(?:\s*[-–]\s*[1-9]\d*)?(?:\s*,\s*[1-9]\d*(?:\s*[-–]\s*[1-9]\d*)?)*\s*")
NOTE_DEFINITION = re.compile(r"^ {0,3}\[\^([^\]\s]+)\]:", re.M)
LONG_WORD = 80  # characters: longer than a line of the PDF
MAX_DEPTH = 12  # lists, quotations and boxes inside one another
UNDEFINED_NOTE = re.compile(r"\[\^([^\]\s]+)\]")
CAPITALISED_MID_SENTENCE = re.compile(r"(?<![.!?:]\s)(?<!^)\b[A-Z][a-z]{2,}")


@dataclass
class Citation:
    key: str
    prefix: str  # "Lenin, quoted in": who is speaking, when the source quotes someone
    paragraphs: tuple[int, ...]  # () when no locator was given
    locator_text: str
    group: str = ""  # the citation as written, "[@spartacus, para. 1]", to find its line
    malformed: bool = False  # a locator that is not "para. N", "paras. N, M–K"


@dataclass
class Paragraph:
    """A paragraph's text with CITE_MARK where each citation group stood."""

    text: str
    cites: list[list[Citation]] = field(default_factory=list)
    notes: list[list] = field(default_factory=list)  # blocks of explanatory notes inside it


def stringify(inlines: list, para: Paragraph) -> str:
    out = []
    for node in inlines:
        kind, content = node["t"], node.get("c")
        if kind == "Str":
            out.append(content)
        elif kind in ("Space", "SoftBreak", "LineBreak"):
            out.append(" ")
        elif kind in ("Emph", "Strong", "Strikeout", "Superscript", "Subscript", "SmallCaps", "Underline"):
            out.append(stringify(content, para))
        elif kind == "Span":
            out.append(stringify(content[1], para))
        elif kind in ("Link", "Image"):
            out.append(stringify(content[1], para))
        elif kind == "Quoted":
            inner = stringify(content[1], para)
            out.append(f"“{inner}”" if content[0]["t"] == "DoubleQuote" else f"‘{inner}’")
        elif kind == "Cite":
            group = stringify(content[1], Paragraph(""))
            para.cites.append([citation_of(c, group) for c in content[0]])
            out.append(CITE_MARK)
        elif kind == "Note":
            para.notes.append(content)
        elif kind in ("Code", "Math"):
            out.append(content[-1])
    return "".join(out)


def citation_of(data: dict, group: str = "") -> Citation:
    suffix = stringify(data.get("citationSuffix", []), Paragraph(""))
    paragraphs: list[int] = []
    match = LOCATOR.search(suffix)
    malformed = bool(suffix.strip(" ,")) and not WHOLE_LOCATOR.fullmatch(suffix)
    for item in match.group(1).split(",") if match else []:
        first, _, last = item.replace("–", "-").partition("-")
        first, last = int(first), int(last or first)
        if last < first:
            malformed = True
        paragraphs += range(first, last + 1) if last >= first else [first]
    prefix = stringify(data.get("citationPrefix", []), Paragraph("")).strip()
    return Citation(data["citationId"], prefix, tuple(paragraphs), suffix.strip(" ,"), group, malformed)


@dataclass
class Context:
    snippet: Snippet
    sources: dict[str, Source]
    report: Report
    cited: bool = False  # any citation seen in the snippet
    quoted_words: int = 0
    words: int = 0
    cites_located: dict = field(default_factory=dict)  # citation text -> how many were located
    too_deep: bool = False

    def cite_seen(self, cite: Citation) -> int:
        """Count this citation among identical ones (every citation, in order: locate_cite needs
        the count only for those it is asked to locate, which are few); returns how many came before."""
        seen = self.cites_located.get((cite.group, cite.key), 0)
        self.cites_located[(cite.group, cite.key)] = seen + 1
        return seen

    def locate_cite(self, cite: Citation, seen: int) -> dict:
        """Line and column of this citation, the one after `seen` identical ones, at its '@key'."""
        where = {"file": self.snippet.file, "line": self.snippet.line}
        tokens = cite.group.split()
        if not tokens or not self.snippet.verbatim:
            return self.locate("@" + cite.key)
        pattern = re.compile(r"\s+".join(re.escape(t) for t in tokens))
        found = list(pattern.finditer(self.snippet.as_written))
        if not found:
            return self.locate("@" + cite.key)
        match = found[min(seen, len(found) - 1)]
        at = self.snippet.as_written.find("@" + cite.key, match.start(), match.end())
        position = at if at >= 0 else match.start()
        before = self.snippet.as_written[:position]
        where["line"] = self.snippet.line + before.count("\n")
        where["column"] = position - (before.rfind("\n") + 1) + 1
        return where

    def locate(self, needle: str) -> dict:
        """Line and column of the first place the needle's words occur in the snippet."""
        where = {"file": self.snippet.file, "line": self.snippet.line}
        words = re.findall(r"\w+", needle)[:5]
        if not words or not self.snippet.verbatim:
            return where
        pattern = re.compile(r"\W+".join(re.escape(w) for w in words))
        match = pattern.search(self.snippet.as_written)
        if match:
            before = self.snippet.as_written[:match.start()]
            where["line"] = self.snippet.line + before.count("\n")
            where["column"] = match.start() - (before.rfind("\n") + 1) + 1
        return where


def check_snippet(snippet: Snippet, blocks: list, sources: dict[str, Source], report: Report) -> Context:
    ctx = Context(snippet, sources, report)
    if snippet.verbatim:
        check_note_labels(snippet, report)
    walk_blocks(blocks, ctx, needs_cite=not snippet.id.startswith(NO_CITE_SNIPPETS))
    return ctx


# Snippets that are our own words about the book itself, not claims about history.
# The self-check's questions and options and the seminar plan ask and arrange; their explanations
# and the teacher's points state facts and cite.
NO_CITE_SNIPPETS = ("aim-", "question-", "summary-", "reading-", "srcnote-", "conflict-", "selfq-", "selfopt-",
                    "teachplan-", "teachopen-")


def walk_blocks(blocks: list, ctx: Context, needs_cite: bool, depth: int = 0) -> None:
    """Every block that can hold text, citations or notes: paragraphs, headings, quotations,
    boxes (and their titles), lists, definition lists, line blocks, tables and figures."""
    if depth > MAX_DEPTH:
        if not ctx.too_deep:
            ctx.too_deep = True
            ctx.report.error("markdown.depth", f"lists, quotations or boxes are nested more than {MAX_DEPTH} "
                             "deep here; no reader can follow that, and the outputs cannot hold it",
                             **ctx.locate(first_text(blocks)))
        return
    inner = depth + 1
    for block in blocks:
        kind, content = block["t"], block.get("c")
        if kind in ("Para", "Plain"):
            check_paragraph(content, ctx, needs_cite)
        elif kind == "Header":
            check_heading(content[2], ctx)
        elif kind == "LineBlock":
            lines = [node for line in content for node in [*line, {"t": "LineBreak"}]]
            check_paragraph(lines, ctx, needs_cite)
        elif kind == "BlockQuote":
            check_block_quote(content, ctx, inner)
        elif kind == "Div":
            attributes = dict(content[0][2])
            if "title" in attributes:
                check_box_title(attributes["title"], ctx)
            walk_blocks(content[1], ctx, needs_cite and "no-cite" not in content[0][1], inner)
        elif kind in ("BulletList", "OrderedList"):
            items = content if kind == "BulletList" else content[1]
            for item in items:
                walk_blocks(item, ctx, needs_cite, inner)
        elif kind == "DefinitionList":
            for term, definitions in content:
                check_paragraph(term, ctx, False)
                for definition in definitions:
                    walk_blocks(definition, ctx, needs_cite, inner)
        elif kind == "Table":
            _, caption, _, head, bodies, foot = content
            walk_blocks(caption[1], ctx, False, inner)
            rows = head[1] + [row for body in bodies for row in body[2] + body[3]] + foot[1]
            for row in rows:
                for cell in row[1]:
                    walk_blocks(cell[4], ctx, False, inner)
        elif kind == "Figure":
            walk_blocks(content[1][1], ctx, False, inner)
            walk_blocks(content[2], ctx, needs_cite, inner)


def first_text(blocks) -> str:
    """The first words inside some blocks (to say where they are)."""
    stack = [blocks]
    while stack:
        node = stack.pop()
        if isinstance(node, dict) and node.get("t") == "Str":
            return node["c"]
        if isinstance(node, dict):
            stack.append(node.get("c"))
        elif isinstance(node, list):
            stack.extend(reversed(node))
    return ""


def check_heading(inlines: list, ctx: Context) -> None:
    """A heading goes into the contents, the bookmarks and the running heads: no notes there."""
    para = Paragraph("")
    para.text = stringify(inlines, para)
    if para.cites or para.notes:
        what = "a citation" if para.cites else "a footnote"
        ctx.report.error("heading.note", f"{what} in a heading would be copied into the contents, the bookmarks "
                         "and the running heads; cite in the text under the heading",
                         **ctx.locate(para.text.replace(CITE_MARK, " ")))
    check_paragraph(inlines, ctx, needs_cite=False)


def check_box_title(title: str, ctx: Context) -> None:
    """A box title is printed as typed (with *italics*): citations, notes and quotations in it
    would be neither resolved nor checked."""
    what = ("a citation" if "@" in title else "a footnote" if "[^" in title
            else "a quotation" if re.search(r'["“”]', title) else None)
    if what:
        ctx.report.error("box.title", f"{what} in a box title is printed as typed and cannot be checked; "
                         "put it in the box's text", **ctx.locate(UNDEFINED_NOTE.sub(" ", title)))


def check_paragraph(inlines: list, ctx: Context, needs_cite: bool) -> None:
    para = Paragraph("")
    para.text = stringify(inlines, para)
    ctx.words += len(para.text.split())
    check_keys(para, ctx)
    check_undefined_notes(para, ctx)
    check_long_words(para, ctx)
    for match in QUOTATION.finditer(para.text):
        quotation = match.group(1).replace(CITE_MARK, "")
        ctx.quoted_words += len(quotation.split())
        cites = cites_for(para, match.start(), match.end())
        if cites is None:
            ctx.report.error("quote.uncited", f"quotation “{short(quotation)}” has no citation; "
                             "add [@source, para. N] after it", **ctx.locate(quotation))
        else:
            check_quotation(quotation, cites, ctx)
    for note_blocks in para.notes:
        walk_blocks(note_blocks, ctx, needs_cite=False)
    note_cites = any(CITE_MARK in text for text in note_texts(para))
    if para.cites or note_cites:
        ctx.cited = True
    elif needs_cite and states_facts(para.text):
        ctx.report.warning("cite.missing", "this paragraph states facts but cites no source; add a citation "
                           "or, if it is our own framing, put it in a '::: no-cite' block",
                           **ctx.locate(para.text))


def check_undefined_notes(para: Paragraph, ctx: Context) -> None:
    for match in UNDEFINED_NOTE.finditer(para.text):
        label = match.group(1).split("-", 1)[-1]
        ctx.report.error("note.undefined", f"footnote reference [^{label}] has no note; "
                         f"add a line '[^{label}]: …' to the file", **ctx.locate("[^" + label + "]"))


def check_long_words(para: Paragraph, ctx: Context) -> None:
    for word in para.text.replace(CITE_MARK, " ").split():
        if len(word) > LONG_WORD:
            kind = "URL" if "://" in word or word.startswith("www.") else "word"
            ctx.report.warning("text.long-word", f"a {kind} of {len(word):,} characters (‘{short(word, 30)}’) is "
                               "longer than a line: the PDF breaks it anywhere; shorten it"
                               + (", or link it: [words](URL)" if kind == "URL" else ""),
                               **ctx.locate(word[:60]))


def note_texts(para: Paragraph) -> list[str]:
    texts = []
    for blocks in para.notes:
        for block in blocks:
            if block["t"] in ("Para", "Plain"):
                texts.append(stringify(block["c"], Paragraph("")))
    return texts


def check_block_quote(blocks: list, ctx: Context, depth: int = 1) -> None:
    paragraphs = []
    for block in blocks:
        if block["t"] in ("Para", "Plain"):
            para = Paragraph("")
            para.text = stringify(block["c"], para)
            paragraphs.append(para)
        else:  # a list, a heading, a quotation inside the quotation
            walk_blocks([block], ctx, needs_cite=False, depth=depth)
    cites = [c for para in paragraphs for group in para.cites for c in group]
    for para in paragraphs:
        check_keys(para, ctx)
        check_undefined_notes(para, ctx)
        for note_blocks in para.notes:
            walk_blocks(note_blocks, ctx, needs_cite=False, depth=depth)
        quotation = para.text.replace(CITE_MARK, "").strip()
        ctx.words += len(quotation.split())
        ctx.quoted_words += len(quotation.split())
        if not quotation:
            continue
        if not cites:
            ctx.report.error("quote.uncited", f"block quotation “{short(quotation)}” has no citation; "
                             "end it with [@source, para. N]", **ctx.locate(quotation))
        else:
            check_quotation(quotation, cites, ctx)
    if cites:
        ctx.cited = True


def cites_for(para: Paragraph, start: int, end: int) -> list[Citation] | None:
    """The citation that vouches for a quotation: the next one after it, else the last before."""
    after = para.text.count(CITE_MARK, 0, end)
    if after < len(para.cites):
        return para.cites[after]
    before = para.text.count(CITE_MARK, 0, start)
    return para.cites[before - 1] if before else None


def check_keys(para: Paragraph, ctx: Context) -> None:
    for group in para.cites:
        keys = [(cite.prefix, cite.key) for cite in group]
        for _, key in {k for k in keys if keys.count(k) > 1}:
            ctx.report.warning("cite.repeat", f"'@{key}' is cited twice in one note; cite it once with all its "
                               f"paragraphs, e.g. [@{key}, paras. 3, 7]", **ctx.locate("@" + key))
        for cite in group:
            seen = ctx.cite_seen(cite)
            source = ctx.sources.get(cite.key)
            if source is None:
                ctx.report.error("cite.unknown-key", f"citation key '@{cite.key}' is not in sources/registry.yaml; "
                                 f"known keys: {', '.join(ctx.sources)}", **ctx.locate_cite(cite, seen))
                continue
            if cite.malformed:
                ctx.report.error("cite.locator-syntax", f"'{cite.locator_text}' is not a locator; write "
                                 f"'para. N' or 'paras. N, M–K' with paragraph numbers from 1 to "
                                 f"{len(source.paragraphs)} (python build.py source {cite.key})",
                                 **ctx.locate_cite(cite, seen))
                continue
            bad = [n for n in cite.paragraphs if source.paragraph(n) is None]
            if bad:
                ctx.report.error("cite.bad-locator", f"'{cite.key}' has no paragraph {bad[0]} "
                                 f"(it has {len(source.paragraphs)}); see python build.py source {cite.key}",
                                 **ctx.locate_cite(cite, seen))


def check_note_labels(snippet: Snippet, report: Report) -> None:
    """A label defined twice: pandoc keeps one note and drops the other's text."""
    first: dict[str, int] = {}
    for match in NOTE_DEFINITION.finditer(snippet.as_written):
        label = match.group(1)
        line = snippet.line + snippet.as_written.count("\n", 0, match.start())
        if label in first:
            report.error("note.duplicate", f"footnote [^{label}] is defined twice (first at line {first[label]}); "
                         "give each note its own label", file=snippet.file, line=line, column=1)
        first.setdefault(label, line)
    text = snippet.as_written
    for label, line in first.items():
        calls = text.count(f"[^{label}]") - text.count(f"[^{label}]:")
        if calls <= 0:
            report.warning("note.unused", f"footnote [^{label}] is defined but never called; add [^{label}] "
                           "where it belongs, or delete the note", file=snippet.file, line=line, column=1)


def check_quotation(quotation: str, cites: list[Citation], ctx: Context) -> None:
    candidates: list[tuple[str, int, str]] = []
    for cite in cites:
        source = ctx.sources.get(cite.key)
        if source is None:
            continue
        numbers = cite.paragraphs or tuple(p.number for p in source.paragraphs)
        candidates += [(cite.key, n, source.paragraph(n).text) for n in numbers if source.paragraph(n)]
    if not candidates or any(occurs_in(quotation, text) for _, _, text in candidates):
        return
    keys = sorted({key for key, _, _ in candidates})
    where = "the cited paragraph" if all(c.paragraphs for c in cites) else "the cited source"
    # The closest window of text in any candidate paragraph, shown so the editor sees the difference.
    found = nearest(quotation, [(index, text) for index, (_, _, text) in enumerate(candidates)])
    hint = None
    if found:
        key, number, _ = candidates[found[0]]
        hint = f"nearest text in '{key}', para. {number}: “{found[1]}”"
    pieces = fragments(quotation)
    ctx.report.error("quote.mismatch", f"quotation “{short(quotation)}” is not in {where} ({', '.join(keys)})",
                     hint=hint, **ctx.locate(pieces[0] if pieces else quotation))


def states_facts(text: str) -> bool:
    """A paragraph names people, places or dates: it makes claims a reader may want to check."""
    text = text.strip()
    if len(text.split()) < 4:
        return False
    return bool(re.search(r"\d", text) or CAPITALISED_MID_SENTENCE.search(text))


def short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
