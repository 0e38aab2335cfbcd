"""Parse, check and render per snippet, reusing what an earlier build computed for unchanged ones.

Each stage's result for a snippet is cached under a key made of everything it depends on:

- parse: the snippet's text, plus what pandoc shares across its input (heading ids, link and
  note definitions, example lists: the lines that can hold them, from every snippet). A snippet
  whose notes are named in another snippet is keyed on the whole book.
- check: the snippet, its AST, and the sources it cites (so a changed source paragraph re-checks
  the quotations that cite it, though the chapter did not change).
- render: the snippet's AST and the citation state before it. Citeproc's notes (Chicago, shortened)
  depend on what came before: a source's first citation differs from later ones ("first",
  "subsequent") and a citation that repeats the one before it is "Ibid.". That state is the sources
  cited so far, in order of first citation, and the notes from the last one that cites anything.
  A snippet rendered alone is preceded by citations that rebuild that state (one citation of
  each source cited so far, then those notes as they were). This relies on the style deciding a
  note's form from nothing else (no "near-note", no year suffixes in order of citation), which
  holds for styles/csl/; tests/test_cache.py compares a chapter rendered so with a whole-book run.

Snippets that miss go through pandoc together, in one run, or in two at once when there is
enough work for two cores: the second primed like any snippet rendered alone. A cold build, which
misses everything, parses and renders each half in one pandoc process (book/cold_pass.py:
parse_ahead, parse_rendering_ahead).
Pandoc's warnings name lines of its joined input: a run that warns, or whose snippets ran into
one another (raw HTML left open, say), is redone over the whole book and cached
nowhere, so that the results and messages are those of a cold build.
"""
from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

from lxml import html

from . import cache, convert
from .cold_pass import ColdPass
from .convert import Snippet
from .diagnostics import Diagnostic, Report
from .html import RenderedHTML, bibliography_of, finish_note, note_refs, split_pandoc_html
from .memo import Memo
from .pandoc_binary import pandoc_identity
from .snippet_pieces import SEPARATOR, cut

BOOK = Path(__file__).resolve().parent

# --- parse ----------------------------------------------------------------------------------------

# Lines through which one snippet's parse can depend on another's: headings (unique ids, implicit
# header references), explicit ids, link definitions and example lists (lines with '#', '(@' or
# '[…]:'), and setext headings (a line underlined with = or -, kept with the line above it).
LINK_DEFINITION = re.compile(r"^\s*(?:>\s*)*\[[^\]]+\]:")
UNDERLINE = re.compile(r"^\s*(?:=+|-+)\s*$")
NOTE_MENTION = re.compile(r"\[\^([^\]\s]+)\]")
NOTE_DEFINITION = re.compile(r"^ {0,3}\[\^([^\]\s]+)\]:", re.M)


@lru_cache(maxsize=None)
def code_key(*names: str) -> str:
    """The code that computes a cached value is part of its key."""
    return cache.file_key(*(BOOK / name for name in names))


@lru_cache(maxsize=4096)
def scan(markdown: str) -> tuple[str, frozenset, frozenset]:
    """A snippet's shared lines (see above), the note labels it mentions and those it defines."""
    lines = markdown.splitlines()
    shared = [line for number, line in enumerate(lines)
              if "#" in line or "(@" in line or LINK_DEFINITION.match(line)
              or (number + 1 < len(lines) and UNDERLINE.match(lines[number + 1]) and line.strip())]
    return ("\n".join(shared), frozenset(NOTE_MENTION.findall(markdown)),
            frozenset(NOTE_DEFINITION.findall(markdown)))


def parse_keys(snippets: list[Snippet]) -> list[str]:
    """Each snippet's parse key. The pieces of one snippet (book/snippet_pieces.py) carry the
    note definitions they call, so a label they share is not an entanglement."""
    scans = [scan(s.markdown) for s in snippets]
    shared = cache.key(*[shared for shared, _, _ in scans])
    owners: dict[str, set[str]] = {}
    for s, (_, mentioned, _) in zip(snippets, scans):
        for label in mentioned:
            owners.setdefault(label, set()).add(s.id.partition(SEPARATOR)[0])
    whole = None
    keys = []
    code = code_key("convert.py", "incremental.py", "snippet_pieces.py")
    for s, (_, mentioned, defined) in zip(snippets, scans):
        entangled = bool(mentioned - defined) or any(len(owners[label]) > 1 for label in mentioned)
        if entangled and whole is None:
            whole = cache.key(*[t.id + "\0" + t.markdown for t in snippets])
        keys.append(KEYS.get(("parse", code, pandoc_identity(), shared, s.id, s.markdown.strip(),
                              whole if entangled else "")))
    return keys


class KeyMemo:
    """cache.key of plain strings, remembered through a --watch session: after an edit most keys
    are those of the build before, and a dict lookup costs a fraction of hashing them again."""

    def __init__(self, limit: int = 50_000) -> None:
        self.limit = limit
        self.keys: dict[tuple[str, ...], str] = {}

    def get(self, parts: tuple[str, ...]) -> str:
        found = self.keys.get(parts)
        if found is None:
            if len(self.keys) >= self.limit:  # a long session: start afresh rather than grow
                self.keys.clear()
            found = self.keys[parts] = cache.key(*parts)
        return found


KEYS = KeyMemo()
MEMORY: dict[tuple[Path, str, str], object] = {}  # what this process read or wrote: watch and serve reuse it


def recall_many(root: Path, kind: str, keys: list[str]) -> dict:
    """Cached values, by key: from this process's memory, else from .cache/ (in one lookup for
    all: a cold build asks for thousands and finds none); a key not found is left out."""
    if not cache.enabled():
        return {}
    found = {key: MEMORY[(root, kind, key)] for key in keys if (root, kind, key) in MEMORY}
    read = cache.read_json_many(root, kind, [key for key in keys if key not in found])
    for key, value in read.items():
        MEMORY[(root, kind, key)] = value
    return {**found, **read}


def keep(root: Path, kind: str, key: str, value, later: bool = False, written: str | None = None) -> None:
    """Remember a value, and store it in .cache/; later: at the next flush(), not now; written:
    the value as JSON already."""
    if not cache.enabled():
        return
    if len(MEMORY) > 20_000:  # a long serve session: start afresh rather than grow without end
        MEMORY.clear()
    MEMORY[(root, kind, key)] = value
    if later:
        LATER.setdefault(root, []).append((kind, key, value, written))
    else:
        cache.write_json(root, kind, key, value, written)


# Entries kept in memory, not yet written: a cold build's parse entries (a whole book of JSON to
# write) are written while pandoc renders, by the checks' flush (check_snippets always follows
# parse: book/pipeline.py), not before the render can start.
LATER: dict[Path, list[tuple[str, str, object, str | None]]] = {}


def flush(root: Path) -> None:
    for kind, key, value, written in LATER.pop(root, []):
        cache.write_json(root, kind, key, value, written)
    cache.flush(root)


def parse(snippets: list[Snippet], root: Path, ignored: tuple[str, ...]) -> tuple[dict, list[str], dict]:
    """The book's AST, parsing only the snippets not cached; pandoc's warnings (see the module's
    doc); and per snippet its parse key, what snippet_facts finds in it and its units (the pieces
    pandoc parsed and will render: book/snippet_pieces.py), for the later stages."""
    return parse_ahead(snippets, root, ignored, None)[:3]


def parse_ahead(snippets: list[Snippet], root: Path, ignored: tuple[str, ...],
                render_with: tuple[list[dict], str] | None) -> tuple[dict, list[str], dict, ColdPass | None]:
    """parse(), and with render_with (the references and the language of the render), in a cold
    build, the processes that parsed the book rendering it already (book/cold_pass.py), for
    render() to take: its fourth value (None when it parsed otherwise)."""
    convert.check_snippet_markup(snippets)
    cuts = {s.id: cut(s) for s in snippets}
    units = [unit for s in snippets for unit in cuts[s.id]]
    keys = dict(zip([u.id for u in units], parse_keys(units)))
    entries: dict[str, dict] = {}
    stored = recall_many(root, "parse", list(keys.values()))
    for unit in units:
        entry = stored.get(keys[unit.id])
        if isinstance(entry, dict) and {"api", "div", "facts"} <= entry.keys():
            entries[unit.id] = entry
    missing = [unit for unit in units if unit.id not in entries]
    warnings: list[str] = []
    ahead = None
    if missing:
        written: dict[str, str | None] = {}  # the entries' JSON, when the cold pass has it as pandoc wrote it
        if render_with is not None and len(missing) == len(units):  # a cold build: parsed and rendered at once
            groups = halves(missing, [len(u.markdown) + CITATION_COST * u.markdown.count("@") for u in missing],
                            PARSE_ITEM_COST)
            ahead = parse_rendering_ahead(groups, keys, entries, written, (render_with[0], root, render_with[1]),
                                          ignored)
        if ahead is None:
            groups = halves(missing, [len(u.markdown) for u in missing], PARSE_ITEM_COST)
            # one run: small enough for the pandoc a --watch or serve session keeps running, if any
            runs = in_parallel([(convert.parse, (group, len(groups) == 1)) for group in groups])
            ast = {**runs[0][0], "blocks": [block for run, _ in runs for block in run["blocks"]]}
            warnings = [line for _, lines in runs for line in lines]
            if not clean(ast, missing, warnings, ignored):
                return (*whole_book(snippets, ignored), None)
            divs = {block["c"][0][0]: block for block in ast["blocks"]}
            for unit in missing:
                entries[unit.id] = parse_entry(ast["pandoc-api-version"], divs[unit.id])
        for unit in missing:
            keep(root, "parse", keys[unit.id], entries[unit.id], later=True, written=written.get(unit.id))
    cache.flush(root)  # what was read (written: at the next flush)
    api = entries[units[0].id]["api"] if units else None
    blocks, parsed = [], {}
    for s in snippets:
        own = [{"id": unit.id, "key": keys[unit.id], "div": entries[unit.id]["div"], "size": len(unit.markdown),
                **entries[unit.id]["facts"]} for unit in cuts[s.id]]
        if len(own) == 1:
            div, key = own[0]["div"], own[0]["key"]
        else:  # the pieces' blocks in one div, as pandoc parses the whole snippet
            div = {"t": "Div", "c": [[s.id, ["snippet"], []], [block for unit in own for block in unit["div"]["c"][1]]]}
            key = cache.key(*[unit["key"] for unit in own])
        blocks.append(div)
        parsed[s.id] = {"key": key, "units": own,
                        **{fact: [item for unit in own for item in unit[fact]] for fact in ("events", "anchors", "links")}}
    return {"pandoc-api-version": api, "meta": {}, "blocks": blocks}, warnings, parsed, ahead


def api_version(output: str) -> list[int]:
    """The version of pandoc's AST in the JSON it wrote, which starts with it (read without reading
    the whole document)."""
    head = output[:output.index("]") + 1] + "}"
    return json.loads(head)["pandoc-api-version"]


def parse_entry(api, div: dict) -> dict:
    return {"api": api, "div": div, "facts": snippet_facts(div["c"][1])}


def parse_rendering_ahead(groups: list[list[Snippet]], keys: dict[str, str], entries: dict[str, dict],
                          written: dict[str, str | None], render_with: tuple[list[dict], Path, str],
                          ignored: tuple[str, ...]) -> ColdPass | None:
    """A cold build's parse by processes that go on to render what they parsed (book/cold_pass.py):
    each group's render is requested as soon as the groups before it are parsed, primed with the
    state they leave citeproc in. Adds the groups' units to entries, and their JSON to written
    (entry_text); None if pandoc failed or warned (of anything but the ignored), or a unit did not
    come out whole (then the parse is done as usual)."""
    run = ColdPass(groups)
    found: dict[str, dict] = {}
    seen: tuple[str, ...] = ()  # as render() follows the state, from the start of the book
    trailing: list = []
    state = cache.key(list(seen), trailing)
    for index, group in enumerate(groups):
        answer = run.parsed(index)
        if answer is None:
            run.close()
            return None
        # Rendered at once, before its JSON is read here, after the blocks render() puts before a
        # group that starts here: the state the groups before it leave (none at the start of the book).
        blocks = priming(list(seen), trailing) if index else []
        run.render(index, convert.worker_document({"pandoc-api-version": api_version(answer[0]), "blocks": blocks},
                                                  *render_with))
        output = convert.zero_counters(answer[0])
        ast = json.loads(output)
        if not clean(ast, group, answer[1], ignored):
            run.close()
            return None
        texts = div_texts(output, [unit.id for unit in group]) or [None] * len(group)
        for unit, div, text in zip(group, ast["blocks"], texts):
            found[unit.id] = entry = parse_entry(ast["pandoc-api-version"], div)
            written[unit.id] = text and entry_text(entry, text)
            if entry["facts"]["events"]:
                state, seen, trailing = state_after(state, seen, trailing,
                                                    {"key": keys[unit.id], "events": entry["facts"]["events"]})
    entries.update(found)
    return run


def div_texts(output: str, ids: list[str]) -> list[str] | None:
    """The JSON of each div of a document that pandoc wrote, the snippets' (units') divs with these
    ids, cut out of it as written: a cold build stores them without writing thousands of ASTs out
    again. None if they cannot be told apart so (another div of class snippet alone is there)."""
    heads = [f'{{"t":"Div","c":[[{json.dumps(unit_id)},["snippet"],[]],' for unit_id in ids]
    if output.count('["snippet"],[]],') != len(ids):
        return None
    starts, position = [], 0
    for head in heads:
        position = output.find(head, position)
        if position < 0:
            return None
        starts.append(position)
    ends = [start - 1 for start in starts[1:]] + [output.rindex("]}")]  # a comma, or the blocks' end
    texts = [output[start:end] for start, end in zip(starts, ends)]
    return texts if all(text.endswith("}") for text in texts) else None


def entry_text(entry: dict, div_text: str) -> str:
    """A parse entry as JSON, its div's as pandoc wrote it (json.loads gives the entry back)."""
    return (f'{{"api":{json.dumps(entry["api"])},"div":{div_text},'
            f'"facts":{json.dumps(entry["facts"], ensure_ascii=False, separators=(",", ":"))}}}')


PARALLEL_FROM = 40_000  # characters of Markdown below which one pandoc run is as quick as two
# What pandoc's parse spends on a snippet beyond its characters (its div, its blocks), in characters'
# worth: the book's glossary, people and timeline are a thousand short snippets, and halves of
# equal characters took pandoc half as long again to parse for the half that held them.
PARSE_ITEM_COST = 120
# What citeproc spends on a citation ('@'), in characters' worth, when the halves are rendered too
# (a cold build): the chapters cite on every page, the glossary and the timeline seldom.
CITATION_COST = 400


def halves(items: list, sizes: list[int], item_cost: int = 0) -> list[list]:
    """The items in order, as two runs of about equal size when there is enough work and more than
    one core (a cold build: pandoc runs on one core), else as one; item_cost: what each item costs
    beyond its size."""
    if sum(sizes) < PARALLEL_FROM or len(items) < 2 or (os.cpu_count() or 1) < 2:
        return [items]
    costs = [size + item_cost for size in sizes]
    total = sum(costs)
    running, middle = 0, 1
    for middle, size in enumerate(costs, start=1):
        running += size
        if running >= total / 2:
            break
    middle = min(middle, len(items) - 1)
    return [items[:middle], items[middle:]]


def in_parallel(calls: list[tuple]) -> list:
    """[(function, args), ...] run at once, each in a thread (pandoc is a process of its own)."""
    if len(calls) == 1:
        function, args = calls[0]
        return [function(*args)]
    pool = ThreadPoolExecutor(len(calls))
    try:
        futures = [pool.submit(function, *args) for function, args in calls]
        return [future.result() for future in futures]
    except BaseException:  # a failed run, or Ctrl+C: the other run is not waited for
        convert.stop_running()
        raise
    finally:
        pool.shutdown(cancel_futures=True)


def clean(ast: dict, snippets: list[Snippet], warnings: list[str], ignored: tuple[str, ...]) -> bool:
    """Each snippet came out as its own div, and pandoc said nothing that names a line of its input.

    Not so when a snippet's text ran into the next one's (raw HTML left open, say): then each
    snippet's AST is no longer a function of its own text, and nothing of the run is cached."""
    divs = [block["c"][0][0] if block["t"] == "Div" else None for block in ast["blocks"]]
    return divs == [s.id for s in snippets] and not [w for w in warnings if not any(k in w for k in ignored)]


def whole_book(snippets: list[Snippet], ignored: tuple[str, ...]) -> tuple[dict, list[str], dict]:
    """One run over the whole book, as a cold build does it. The keys are None when the snippets
    did not come out whole: then neither check nor render may use their caches."""
    ast, warnings = convert.parse(snippets)
    whole = clean(ast, snippets, warnings, ignored)
    keys = parse_keys(snippets) if whole else [None] * len(snippets)
    found = {block["c"][0][0]: block for block in ast["blocks"] if block["t"] == "Div"}
    parsed = {}
    for s, key in zip(snippets, keys):
        div = found.get(s.id, {"c": [[s.id, ["snippet"], []], []]})
        facts = snippet_facts(div["c"][1])
        parsed[s.id] = {"key": key, "units": [{"id": s.id, "key": key, "div": div, "size": len(s.markdown), **facts}],
                        **facts}
    return ast, warnings, parsed


# --- check ----------------------------------------------------------------------------------------

def source_key(source) -> str:
    return cache.key(source.id, json.dumps(source.meta, sort_keys=True, default=str), source.spans,
                     [[p.number, p.file, p.line, p.text] for p in source.paragraphs])


def check_snippets(snippets: list[Snippet], blocks: dict[str, list], parsed: dict, sources: dict,
                   report: Report, root: Path) -> dict[str, tuple[int, int]]:
    """check_policy for every snippet, then check_snippet for every snippet (the order of a cold
    build's messages); returns each snippet's (words, quoted words)."""
    from .check import check_snippet
    from .policy import check_policy

    code = code_key("check.py", "policy.py", "quotes.py", "convert.py", "diagnostics.py", "incremental.py")
    fixed = cache.key("check", code, list(sources))  # a citation of an unknown source is an error
    source_keys: dict[str, str] = {}
    keys = []
    for s in snippets:
        cited = sorted({c for event in parsed[s.id]["events"] for c in cited_ids(event)})
        for sid in cited:
            if sid in sources and sid not in source_keys:
                source_keys[sid] = source_key(sources[sid])
        # The parse key stands for the AST: the AST is a function of it.
        # Plain strings, each length-prefixed by cache.key: no JSON to write for every snippet.
        where = [s.id, s.file, str(s.line), "verbatim" if s.verbatim else "", "" if s.written is None else "w" + s.written]
        keys.append(KEYS.get((fixed, *where, parsed[s.id]["key"], *[f"{sid}\0{source_keys.get(sid)}" for sid in cited])
                             ) if parsed[s.id]["key"] else None)
    stored = recall_many(root, "check", [key for key in keys if key])
    results = []
    for s, key in zip(snippets, keys):
        tree = blocks.get(s.id, [])
        entry = stored.get(key) if key else None
        if not (isinstance(entry, dict) and {"policy", "snippet", "words", "quoted"} <= entry.keys()):
            policy, checked = Report(), Report()
            check_policy(s, tree, policy)
            context = check_snippet(s, tree, sources, checked)
            entry = {"policy": [asdict(d) for d in policy.items], "snippet": [asdict(d) for d in checked.items],
                     "words": context.words, "quoted": context.quoted_words}
            if key:
                keep(root, "check", key, entry)
        results.append(entry)
    flush(root)
    for entry in results:
        report.items.extend(Diagnostic(**d) for d in entry["policy"])
    for entry in results:
        report.items.extend(Diagnostic(**d) for d in entry["snippet"])
    return {s.id: (entry["words"], entry["quoted"]) for s, entry in zip(snippets, results)}


# --- render ---------------------------------------------------------------------------------------

WORDS = frozenset({"Str", "Space", "SoftBreak", "LineBreak"})


def snippet_facts(blocks) -> dict:
    """What the later stages need to know of a snippet's blocks, found in one walk:

    - "events": what citeproc sees, in order: ["cite", citations, text] for a citation in the
      running text (it becomes a note), ["note", [[citations, text], ...]] for each footnote;
    - "anchors": the ids written in the text, as [kind, id] (Header, Div or Span);
    - "links": the targets of links within the book ("#id")."""
    events: list = []
    anchors: list = []
    links: list = []

    def walk(node, note) -> None:
        if isinstance(node, list):
            for item in node:
                # Most nodes are words and spaces, which hold none of the facts: not walked into.
                if isinstance(item, list) or (isinstance(item, dict) and item.get("t") not in WORDS):
                    walk(item, note)
        elif isinstance(node, dict):
            kind = node.get("t")
            content = node.get("c")
            if kind == "Cite":
                if note is None:
                    events.append(["cite", content[0], content[1]])
                else:
                    note.append([content[0], content[1]])
                walk(content[1], note)  # the citation's text; a Cite holds no other Cite
                return
            elif kind == "Note" and note is None:
                inside: list = []
                walk(content, inside)
                events.append(["note", inside])
                return
            elif kind in ("Header", "Div", "Span"):
                anchor = content[1][0] if kind == "Header" else content[0][0]
                if anchor:
                    anchors.append([kind, anchor])
            elif kind == "Link" and content[2][0].startswith("#"):
                links.append(content[2][0])
            if isinstance(content, (list, dict)):
                walk(content, note)

    walk(blocks, None)
    return {"events": events, "anchors": anchors, "links": links}


def cited_ids(event) -> list[str]:
    groups = [event[1]] if event[0] == "cite" else [citations for citations, _ in event[1]]
    return [c["citationId"] for citations in groups for c in citations]


def event_blocks(event) -> list:
    """An event as blocks that give citeproc the same citations in the same notes."""
    if event[0] == "cite":
        return [{"t": "Para", "c": [{"t": "Cite", "c": [event[1], event[2]]}]}]
    inlines = [{"t": "Cite", "c": [c, t]} for c, t in event[1]] or [{"t": "Str", "c": "note"}]
    return [{"t": "Para", "c": [{"t": "Note", "c": [{"t": "Para", "c": inlines}]}]}]


def priming(items: list[str], trailing: list) -> list:
    """Blocks that leave citeproc in a state: these sources cited before, then these notes."""
    blocks = [{"t": "Para", "c": [convert.citation(item)]} for item in items]
    return blocks + [block for event in trailing for block in event_blocks(event)]


def localise_notes(markup: str, elements: dict[str, tuple] | None = None) -> dict[str, dict]:
    """Cut pandoc's HTML into snippets, each with its own notes, numbered from 1 within it; as
    markup, and into elements (if given) as elements: id -> (div, notes)."""
    root = html.fragment_fromstring(markup, create_parent="div")
    notes = {item.get("id"): item for item in root.xpath('.//section[@id="footnotes"]/ol/li')}
    pieces = {}
    for div in root.xpath('./div[contains(@class, "snippet")]'):
        own, own_elements = [], []
        for number, ref in enumerate(note_refs(div), start=1):
            note = notes[ref.get("href").lstrip("#")]
            renumber(ref, note, number)
            own.append(html.tostring(note, encoding="unicode", with_tail=False))
            own_elements.append(note)
        pieces[div.get("id")] = {"div": html.tostring(div, encoding="unicode", with_tail=False), "notes": own}
        if elements is not None:
            for element in (div, *own_elements):
                element.tail = None  # as the markup has them: without
            elements[div.get("id")] = (div, own_elements)
    return pieces


def renumber(ref, note, number: int) -> None:
    """Give a note call and its note pandoc's ids for note number `number`."""
    ref.set("href", f"#fn{number}")
    ref.set("id", f"fnref{number}")
    for sup in ref.iter("sup"):
        sup.text = str(number)
    note.set("id", f"fn{number}")
    for back in note.xpath('.//a[contains(@class, "footnote-back")]'):
        back.set("href", f"#fnref{number}")


def assemble(pieces: list[tuple[str, list[tuple[str, dict]]]], fresh: dict[str, tuple] | None = None) -> RenderedHTML:
    """The snippets' pieces, in book order, as one rendering with the notes numbered across the
    book; pieces: (snippet id, [(render key, rendered piece) of each of its units]), the units'
    joined into one div.

    A snippet's div and notes depend only on its units' renderings and the number of the note
    before it: in a --watch session they are remembered under those, and shared from build to build
    (nobody changes them: book/enrich.py copies a note before marking it), and so is their markup
    once written out (RenderedHTML.markup). fresh: the units just rendered, as elements (render key ->
    (div, notes): localise_notes), used as they are rather than parsed again from their markup."""
    found: dict[str, tuple] = {}
    missing: list[tuple[tuple, str, list[tuple[str, dict]], int]] = []  # (key, snippet id, units, number before it)
    number = 0
    for snippet_id, own in pieces:
        key = (snippet_id, number, *[unit_key for unit_key, _ in own])
        done = _ASSEMBLED.lookup(key)
        if done is None:
            missing.append((key, snippet_id, own, number))
        else:
            found[snippet_id] = done
        number += sum(len(unit["notes"]) for _, unit in own)
    for (key, snippet_id, _, _), done in zip(missing, assemble_snippets([m[1:] for m in missing], fresh or {})):
        found[snippet_id] = done
        _ASSEMBLED.keep(key, done)
    snippets, notes, markup = {}, {}, {}
    for snippet_id, _ in pieces:
        div, own_notes, written = found[snippet_id]
        snippets[snippet_id] = div
        notes.update(own_notes)
        markup[snippet_id] = written
    return RenderedHTML(snippets, notes, bibliography_of({"bibliography": snippets["bibliography"]}
                                                         if "bibliography" in snippets else snippets), markup)


def assemble_snippets(snippets: list[tuple[str, list[tuple[str, dict]], int]], fresh: dict[str, tuple]) -> list[tuple]:
    """Each snippet's div (its units' joined), its notes numbered from the number given + 1, and an
    empty dict for its markup once written out; snippets: (id, [(render key, unit)], number before
    it); fresh: see assemble()."""
    if not snippets:
        return []
    keys = [unit_key for _, own, _ in snippets for unit_key, _ in own]
    if all(unit_key in fresh for unit_key in keys):  # a cold build: every unit just rendered
        divs = iter([fresh[unit_key][0] for unit_key in keys])
        items = iter([note for unit_key in keys for note in fresh[unit_key][1]])
    else:
        # One parse of all the units (each is a whole element, as lxml wrote it), not one per unit.
        units = [unit for _, own, _ in snippets for _, unit in own]
        markup = ("".join(unit["div"] for unit in units) + "<ol>" + "".join(n for unit in units for n in unit["notes"])
                  + "</ol>")
        root = html.fragment_fromstring(markup, create_parent="div")
        items = iter(root[-1])
        divs = iter(list(root[:-1]))
    done = []
    for snippet_id, own, number in snippets:
        div = next(divs)
        for _ in own[1:]:  # a snippet cut into pieces (book/snippet_pieces.py): one div again
            join_div(div, next(divs))
        div.set("id", snippet_id)
        notes = {}
        for ref in note_refs(div):
            number += 1
            note = next(items)
            renumber(ref, note, number)
            finish_note(note)
            notes[note.get("id")] = note
        done.append((div, notes, {}))
    return done


# snippet id, the number of the note before it, its units' keys -> (div, notes, markup)
_ASSEMBLED = Memo(64 << 20, lambda done: 4000 + 4000 * len(done[1]))  # roughly, in bytes


def join_div(div, following) -> None:
    """Move the content of `following` to the end of `div`, and drop `following`."""
    if following.text:
        if len(div):
            div[-1].tail = (div[-1].tail or "") + following.text
        else:
            div.text = (div.text or "") + following.text
    div.extend(list(following))
    following.getparent().remove(following)


def state_after(state: str, seen: tuple[str, ...], trailing: list, unit: dict) -> tuple[str, tuple[str, ...], list]:
    """Citeproc's state (its key, the sources cited, the trailing notes) after a unit's events. A
    function of the state before and the unit's parse key (its events are a function of it):
    remembered, so that a --watch rebuild does not hash the notes of the whole book again."""
    known = _STATES.get((state, unit["key"]))
    if known is None:
        cited_so_far = dict.fromkeys(seen)
        for event in unit["events"]:
            cited = cited_ids(event)
            cited_so_far.update(dict.fromkeys(cited))
            trailing = [event] if cited else trailing + [event] if trailing else []
        seen = tuple(cited_so_far)
        known = (cache.key(list(seen), trailing), seen, trailing)
        if len(_STATES) > 50_000:  # a long session: start afresh rather than grow
            _STATES.clear()
        _STATES[(state, unit["key"])] = known
    return known


_STATES: dict[tuple[str, str], tuple[str, tuple[str, ...], list]] = {}


def render(ast: dict, parsed: dict, references: list[dict], root: Path, lang: str,
           ahead: ColdPass | None = None) -> tuple[RenderedHTML, list[str]]:
    """Render the book's AST, reusing cached snippets (see the module's doc); (rendering, warnings).
    Pandoc renders units (a snippet, or a piece of one: book/snippet_pieces.py), and so does the cache.
    ahead: the processes of a cold build's parse, rendering already (parse_ahead())."""
    if any(entry["key"] is None for entry in parsed.values()):  # see whole_book(): no cache
        if ahead is not None:
            ahead.close()
        markup, warnings = convert.render(ast, references, root, lang)
        return split_pandoc_html(markup), warnings
    snippet_ids = [div["c"][0][0] for div in ast["blocks"]]
    units = [unit for snippet_id in snippet_ids for unit in parsed[snippet_id]["units"]]
    ids = [unit["id"] for unit in units]
    divs = [unit["div"] for unit in units]
    fixed = cache.key("render", code_key("convert.py", "html.py", "incremental.py", "snippet_pieces.py"),
                      pandoc_identity(), cache.file_key(root / convert.CSL_STYLE), lang, references)
    keys, states = [], []
    seen: tuple[str, ...] = ()  # the sources cited so far, in order of first citation
    trailing: list = []  # the notes from the last that cites anything
    state = cache.key(list(seen), trailing)
    for unit in units:
        # The parse key stands for the unit's AST, which is a function of it.
        keys.append(KEYS.get((fixed, unit["key"], state)))
        states.append((seen, trailing))
        if unit["events"]:
            state, seen, trailing = state_after(state, seen, trailing, unit)
    pieces: dict[str, dict] = {}
    stored = recall_many(root, "render", keys)
    for unit_id, key in zip(ids, keys):
        entry = stored.get(key)
        if isinstance(entry, dict) and isinstance(entry.get("div"), str) and isinstance(entry.get("notes"), list):
            pieces[unit_id] = entry
    missing = [i for i, unit_id in enumerate(ids) if unit_id not in pieces]
    warnings: list[str] = []
    markups = None
    fresh: dict[str, tuple] = {}  # the units rendered now, as elements: unit id -> (div, notes)
    found: dict[str, dict] = {}
    if ahead is not None:  # what it renders, if that is what is missing: each group cut up as it comes
        if [ids[i] for i in missing] == ahead.unit_ids:
            markups = ahead.rendered(lambda markup: found.update(localise_notes(markup, fresh)))
        else:
            ahead.close()
        if markups is None:  # rendered as usual below
            found.clear()
            fresh.clear()
    if missing and markups is None:
        runs = []
        groups = halves(missing, [units[i]["size"] for i in missing])
        for group in groups:
            blocks, cited, previous = [], set(), -1
            for i in group:
                if i != previous + 1:  # a unit rendered without the one before it: rebuild the state
                    items, before = states[i]
                    blocks += priming([item for item in items if item not in cited], before)
                    cited.update(items)
                blocks.append(divs[i])
                for event in units[i]["events"]:
                    cited.update(cited_ids(event))
                previous = i
            # one run: small enough for the pandoc a --watch or serve session keeps running, if any
            runs.append((convert.render, ({**ast, "blocks": blocks}, references, root, lang, len(groups) == 1)))
        rendered = in_parallel(runs)
        markups, warnings = [markup for markup, _ in rendered], [line for _, lines in rendered for line in lines]
        if warnings and len(missing) < len(divs):  # messages as a cold build gives them
            markup, warnings = convert.render({**ast, "blocks": divs}, references, root, lang)
            markups, missing = [markup], list(range(len(divs)))
    if missing:
        if not found:
            found = {unit_id: piece for markup in markups for unit_id, piece in localise_notes(markup, fresh).items()}
        for i in missing:
            pieces[ids[i]] = found[ids[i]]
            if not warnings:
                keep(root, "render", keys[i], found[ids[i]])
        cache.flush(root)
    unit_keys = dict(zip(ids, keys))
    return assemble([(snippet_id, [(unit_keys[unit["id"]], pieces[unit["id"]]) for unit in parsed[snippet_id]["units"]])
                     for snippet_id in snippet_ids], {unit_keys[unit_id]: both for unit_id, both in fresh.items()}), warnings
