"""The flashcards as a student's app meets them: the Anki deck read back as a collection with sqlite3,
the CSV files read with the csv module, and a corrected definition that updates its card."""
from __future__ import annotations

import csv
import json
import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest
import yaml
from conftest import run_build
from lxml import html

from book.apparatus import load_apparatus
from book.cli import parse_args
from book.config import ROOT
from book.diagnostics import BuildError

SLUG = "bukharin-study-guide"
KINDS = {"Terms": ("terms", "glossary"), "People": ("people", "people"), "Dates": ("dates", "timeline")}


def entries(root: Path, name: str) -> list[dict]:
    return yaml.safe_load((root / "chapters" / f"{name}.yaml").read_text(encoding="utf-8"))


class Deck:
    """An .apkg as Anki reads it: the collection inside the archive, opened with sqlite3."""

    def __init__(self, path: Path, scratch: Path):
        with zipfile.ZipFile(path) as archive:
            assert sorted(archive.namelist()) == ["collection.anki2", "media"]
            scratch.mkdir(parents=True, exist_ok=True)
            (scratch / "collection.anki2").write_bytes(archive.read("collection.anki2"))
            self.media = json.loads(archive.read("media"))
        self.db = sqlite3.connect(scratch / "collection.anki2")
        decks_json, models_json = self.db.execute("SELECT decks, models FROM col").fetchone()
        self.decks = {int(k): v for k, v in json.loads(decks_json).items()}
        self.models = {int(k): v for k, v in json.loads(models_json).items()}

    def notes(self) -> dict[str, dict]:
        """GUID -> the note: its sub-deck's last name, its note type, its fields by name."""
        notes = {}
        rows = self.db.execute("SELECT n.guid, n.mid, n.flds, c.did FROM notes n JOIN cards c ON c.nid = n.id "
                               "ORDER BY n.id")
        for guid, mid, flds, did in rows:
            assert guid not in notes, "one card per note"
            model = self.models[mid]
            names = [f["name"] for f in sorted(model["flds"], key=lambda f: f["ord"])]
            notes[guid] = {"deck": self.decks[did]["name"].split("::")[-1], "model": mid,
                           "fields": dict(zip(names, flds.split("\x1f"), strict=True))}
        return notes

    def by_id(self, deck: str) -> dict[str, dict]:
        return {n["fields"]["Id"]: n for n in self.notes().values() if n["deck"] == deck}


def text(field: str) -> str:
    """What a reader sees of a field: its text, a note call as [1]."""
    root = html.fragment_fromstring(field or "<span></span>", create_parent="div")
    for call in root.xpath('.//sup[@class="ref"]'):
        call.text = f"[{call.text}]"
    return " ".join(root.text_content().split())


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return run_build(ROOT, tmp_path_factory.mktemp("cards"), targets=("flashcards",))


@pytest.fixture(scope="module")
def deck(built, tmp_path_factory) -> Deck:
    return Deck(built.out / f"{SLUG}-flashcards.apkg", tmp_path_factory.mktemp("collection"))


def test_the_deck_has_one_note_per_entry_in_three_sub_decks(built, deck):
    assert built.report.items == []
    notes = deck.notes()
    for deck_name, (_, yaml_name) in KINDS.items():
        ids = [e["id"] for e in entries(ROOT, yaml_name)]
        in_deck = [n["fields"]["Id"] for n in notes.values() if n["deck"] == deck_name]
        assert sorted(in_deck) == sorted(ids), deck_name
    counts = {name: sum(n["deck"] == name for n in notes.values()) for name in KINDS}
    assert counts == {"Terms": 72, "People": 63, "Dates": 82}
    names = sorted(d["name"] for d in deck.decks.values() if d["name"] != "Default")
    assert names == ["Nikolai Bukharin", "Nikolai Bukharin::Dates", "Nikolai Bukharin::People",
                     "Nikolai Bukharin::Terms"]
    assert deck.media == {}


def test_a_term_card_shows_the_definition_as_the_book_renders_it_with_its_sources(deck):
    nep = deck.by_id("Terms")["nep"]["fields"]
    assert nep["Term"] == "New Economic Policy" and nep["Abbreviation"] == "NEP"
    assert text(nep["Definition"]).startswith("The economic policy the Bolsheviks introduced in the early 1920s, "
                                              "once the civil war had run its course, which let farmers sell food on "
                                              "the open market and employ labour.[1] It rested on")
    assert "[@" not in nep["Definition"] and "href" not in nep["Definition"]
    sources = html.fragment_fromstring(nep["Sources"])
    assert [" ".join(li.text_content().split()) for li in sources.xpath("//li")] == [
        "“Bukharin, Nikolai Ivanovich,” para. 2; Simkin, “Nikolay Bukharin,” para. 21.",
        "“Bukharin, Nikolai Ivanovich,” para. 2; “Nikolay Bukharin (Web Profile),” para. 5.",
        "“Bukharin, Nikolai Ivanovich,” para. 3; Gray, “Delusions That Bind,” para. 14."]
    # Italics survive: the headword of a title, and a title inside a definition.
    terms = deck.by_id("Terms")
    assert terms["pravda"]["fields"]["Term"] == "<em>Pravda</em>"
    assert "<em>link</em>" in terms["smychka"]["fields"]["Definition"]


def test_a_person_card_carries_the_cyrillic_dates_and_sources(deck):
    card = deck.by_id("People")["bukharin"]["fields"]
    assert card["Name"] == "Nikolai Bukharin"
    assert card["Cyrillic"] == "Николай Иванович Бухарин" and card["Dates"] == "1888–1938"
    assert "who edited <em>Pravda</em> through the 1920s" in card["About"]
    assert "Bukharchik" in card["Variants"]
    assert "Simkin, “Nikolay Bukharin,” paras. 1, 9, 41." in text(card["Sources"])
    with_cyrillic = {e["id"] for e in entries(ROOT, "people") if e.get("cyrillic")}
    assert {i for i, n in deck.by_id("People").items() if n["fields"]["Cyrillic"]} == with_cyrillic
    # The template marks the Russian for the reader's voice and fonts.
    model = deck.models[deck.by_id("People")["bukharin"]["model"]]
    back = html.fragment_fromstring(model["tmpls"][0]["afmt"], create_parent="div")
    assert [p.get("lang") for p in back.xpath('//*[contains(text(), "{{Cyrillic}}")]')] == ["ru"]


def test_a_date_card_asks_for_the_date_and_answers_with_it(deck):
    born = deck.by_id("Dates")["bukharin-born"]["fields"]
    assert born["When"] == "9 October 1888" and born["Date"] == "1888-10-09"
    assert text(born["Question"]).startswith("Nikolai Bukharin is born in Moscow. The date is the brief summary’s; "
                                             "Spartacus gives […], the same day in the Old Style calendar.")
    assert "Spartacus gives 27 September" in text(born["Event"])
    assert born["Chapter"] == "Chapter 1, Life"
    assert "Simkin, “Nikolay Bukharin,” para. 1;" in text(born["Sources"])
    # No front gives its answer away: neither the year nor the date the card asks for.
    for event in entries(ROOT, "timeline"):
        question = text(deck.by_id("Dates")[event["id"]]["fields"]["Question"])
        assert event["date"][:4] not in question, event["id"]
        assert event["when"].replace("*", "") not in question, event["id"]


def test_the_csv_files_hold_the_same_cards(built, deck):
    for deck_name, (key, _) in KINDS.items():
        path = built.out / f"{SLUG}-flashcards-{key}.csv"
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        notes = deck.by_id(deck_name)
        assert [r["id"] for r in rows] == list(notes), deck_name  # same cards, same order
        for row in rows:
            fields = notes[row["id"]]["fields"]
            assert "\n" not in row["front"] + row["back"]
            main = {"Terms": "Definition", "People": "About", "Dates": "Event"}[deck_name]
            assert text(fields[main]) in row["back"]
            for source in html.fragment_fromstring(fields["Sources"] or "<ol></ol>").xpath("//li"):
                assert " ".join(source.text_content().split()) in row["back"]
            asked = {"Terms": "Term", "People": "Name", "Dates": "Question"}[deck_name]
            assert text(fields[asked]) in row["front"]
    with (built.out / f"{SLUG}-flashcards-people.csv").open(newline="", encoding="utf-8") as handle:
        bukharin = next(r for r in csv.DictReader(handle) if r["id"] == "bukharin")
    assert bukharin["front"] == "Nikolai Bukharin"
    assert bukharin["back"].startswith("Николай Иванович Бухарин (1888–1938). Bolshevik, born in Moscow")


@pytest.fixture(scope="module")
def copy_of_book(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("book") / "book"
    for folder in ("chapters", "sources", "styles"):
        shutil.copytree(ROOT / folder, root / folder)
    return root


def test_two_builds_give_the_same_bytes_wherever_the_book_is(built, copy_of_book, tmp_path):
    again = run_build(copy_of_book, tmp_path / "again", targets=("flashcards",))
    names = sorted(p.name for p in built.out.iterdir())
    assert names == [f"{SLUG}-flashcards-dates.csv", f"{SLUG}-flashcards-people.csv",
                     f"{SLUG}-flashcards-terms.csv", f"{SLUG}-flashcards.apkg"]
    for name in names:
        assert (again.out / name).read_bytes() == (built.out / name).read_bytes(), name


def test_a_corrected_definition_updates_its_note_and_adds_none(deck, copy_of_book, tmp_path):
    glossary = copy_of_book / "chapters" / "glossary.yaml"
    source = glossary.read_text(encoding="utf-8")
    assert source.count("employ labour.") == 1
    glossary.write_text(source.replace("employ labour.", "hire labour."), encoding="utf-8")
    rebuilt = Deck(run_build(copy_of_book, tmp_path / "out", targets=("flashcards",)).out
                   / f"{SLUG}-flashcards.apkg", tmp_path / "collection")
    before, after = deck.notes(), rebuilt.notes()
    assert after.keys() == before.keys()  # every note keeps its GUID: Anki updates, never duplicates
    changed = [guid for guid in before if before[guid] != after[guid]]
    assert [after[guid]["fields"]["Id"] for guid in changed] == ["nep"]
    assert "hire labour.[1]" in text(after[changed[0]]["fields"]["Definition"])
    assert rebuilt.models.keys() == deck.models.keys() and rebuilt.decks.keys() == deck.decks.keys()


def test_every_timeline_entry_needs_an_id_of_its_own(tmp_path):
    root = tmp_path / "book"
    shutil.copytree(ROOT / "chapters", root / "chapters")
    timeline = root / "chapters" / "timeline.yaml"
    source = timeline.read_text(encoding="utf-8")
    timeline.write_text(source.replace("- id: revolution-of-1905\n", "- id: bukharin-born\n"), encoding="utf-8")
    with pytest.raises(BuildError) as raised:
        load_apparatus(root)
    line = source.splitlines().index("- id: revolution-of-1905") + 1
    assert [str(d) for d in raised.value.diagnostics] == [
        f"chapters/timeline.yaml:{line}: error: id 'bukharin-born' is used twice [apparatus.duplicate-id]"]
    timeline.write_text(source.replace("- id: revolution-of-1905\n  date:", "- date:"), encoding="utf-8")
    with pytest.raises(BuildError) as raised:
        load_apparatus(root)
    assert [str(d) for d in raised.value.diagnostics] == [
        f"chapters/timeline.yaml:{line}: error: 1.id: Field required [apparatus.invalid]"]


def test_the_default_build_makes_the_flashcards():
    assert "flashcards" in parse_args([])[0].targets
    assert parse_args(["flashcards"])[0].targets == ("flashcards",)


def test_the_card_style_leaves_colours_to_anki_so_night_mode_works(deck):
    for model in deck.models.values():
        if model["name"].startswith("Nikolai Bukharin: "):
            declarations = [d.strip() for rule in model["css"].split("}") for d in rule.partition("{")[2].split(";")]
            properties = {d.partition(":")[0].strip() for d in declarations if d}
            assert "font-size" in properties
            assert not properties & {"color", "background", "background-color"}, model["name"]
