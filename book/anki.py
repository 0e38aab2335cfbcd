"""The Anki deck (.apkg): a parent deck with a sub-deck and a note type for each kind of card.

A student who imports a rebuilt deck gets updates, not duplicates, because nothing that Anki
matches on comes from a card's text or from the clock: a note's GUID comes from the book's
identifier and the entry's id, and the ids of the note types and decks from the book's identifier.
Anki replaces a note only with a newer one, so every note carries the book's date as its time of
change: set `date` in chapters/book.yaml when correcting an entry. The same date fixes every other
timestamp (the collection's, the cards', the zip entries'), so the same sources give the same bytes.
"""
from __future__ import annotations

import hashlib
import io
import itertools
import json
import sqlite3
import zipfile
from pathlib import Path

import genanki

from .cards import DECKS, Card
from .config import BookConfig
from .yamlsource import read_text

TEMPLATES = Path(__file__).resolve().parent / "templates" / "anki"
CSS = "styles/flashcards.css"


def stable_id(*parts: str) -> int:
    """A note type's or deck's id: fixed by its name, in the range genanki recommends."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return (1 << 30) + int.from_bytes(digest[:4], "big") % (1 << 30)


def note_guid(config: BookConfig, deck: str, entry_id: str) -> str:
    return genanki.guid_for(config.identifier, deck, entry_id)


class FixedDeck(genanki.Deck):
    """genanki stamps every deck with a fixed date of its own; use the book's."""

    def __init__(self, *args, mod: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.mod = mod

    def to_json(self):
        return {**super().to_json(), "mod": self.mod}


def note_types(config: BookConfig, css: str) -> dict[str, genanki.Model]:
    models = {}
    for key, (label, fields) in DECKS.items():
        template = {"name": label, "qfmt": (TEMPLATES / f"{key}-front.html").read_text(encoding="utf-8"),
                    "afmt": (TEMPLATES / f"{key}-back.html").read_text(encoding="utf-8")}
        models[key] = genanki.Model(stable_id(config.identifier, "note type", key), f"{config.title}: {label}",
                                    fields=[{"name": name} for name in fields], templates=[template], css=css,
                                    sort_field_index=fields.index("Date") if "Date" in fields else 0)
    return models


def write_apkg(cards: list[Card], config: BookConfig, root: Path) -> bytes:
    epoch = config.build_epoch
    css = read_text(root / CSS, CSS, root)
    models = note_types(config, css)
    parent = FixedDeck(stable_id(config.identifier, "deck"), config.title, mod=epoch,
                       description=f"{config.title}: {config.subtitle}" if config.subtitle else config.title)
    decks = {key: FixedDeck(stable_id(config.identifier, "deck", key), f"{config.title}::{label}", mod=epoch,
                            description=f"{label} from {config.title}")
             for key, (label, _) in DECKS.items()}
    for key, deck in decks.items():
        # New cards come in the book's order: alphabetical terms and people, dates in time order.
        for position, card in enumerate((c for c in cards if c.deck == key), start=1):
            deck.add_note(genanki.Note(model=models[key], fields=card.fields, sort_field=card.sort,
                                       tags=card.tags, guid=note_guid(config, key, card.id), due=position))
    connection = sqlite3.connect(":memory:")
    try:
        cursor = connection.cursor()
        genanki.Package([parent, *decks.values()]).write_to_db(cursor, epoch, itertools.count(epoch * 1000))
        stamp_collection(cursor, epoch)
        connection.commit()
        database = connection.serialize()
    finally:
        connection.close()
    return zipped({"collection.anki2": database, "media": json.dumps({}).encode()}, config)


def stamp_collection(cursor, epoch: int) -> None:
    """genanki's collection carries dates of its own (from 2014 and 2015): the book's instead."""
    decks, options = (json.loads(value) for value in cursor.execute("SELECT decks, dconf FROM col").fetchone())
    for entry in [*decks.values(), *options.values()]:
        entry["mod"] = epoch
    cursor.execute("UPDATE col SET crt = ?, mod = ?, scm = ?, decks = ?, dconf = ?",
                   (epoch, epoch * 1000, epoch * 1000, json.dumps(decks), json.dumps(options)))


def zipped(files: dict[str, bytes], config: BookConfig) -> bytes:
    """An archive with the book's date on every entry and a fixed order."""
    stamp = (config.date.year, config.date.month, config.date.day, 12, 0, 0)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()
