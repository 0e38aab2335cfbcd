"""The flashcards: the Anki deck (book/anki.py) and the same cards as CSV files for other apps.

The CSV files are one per sub-deck (terms, people, dates), because the apps that import CSV
(Quizlet, Brainscape, RemNote, Mochi, a spreadsheet) import one file into one set or deck and have
no column for a deck. Each has a header row and the columns front, back, id: the apps that take
two columns find the question and the answer first. The text is plain, on one line per card (the
importers that split on lines, such as Quizlet's paste box, keep a card whole), since most of them
show HTML as tags; the back carries the Cyrillic forms and the sources, as the Anki card does.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from .anki import write_apkg
from .cards import DECKS, Card, cards_of
from .model import BookView

CSV_COLUMNS = ["front", "back", "id"]


def write_flashcards(view: BookView, root: Path) -> list[tuple[str, bytes, str]]:
    """[(file name, bytes, what it holds)]: the deck, then one CSV file per sub-deck."""
    slug = view.config.slug
    cards = cards_of(view)
    counts = {key: sum(c.deck == key for c in cards) for key in DECKS}
    extent = ", ".join(f"{DECKS[key][0].lower()} {n}" for key, n in counts.items())
    files = [(f"{slug}-flashcards.apkg", write_apkg(cards, view.config, root), f"{number(len(cards))} ({extent})")]
    for key in DECKS:
        files.append((f"{slug}-flashcards-{key}.csv", csv_bytes([c for c in cards if c.deck == key]),
                      number(counts[key])))
    return files


def number(cards: int) -> str:
    return f"{cards} card" if cards == 1 else f"{cards} cards"


def csv_bytes(cards: list[Card]) -> bytes:
    """RFC 4180 CSV in UTF-8: comma-separated, fields quoted where needed, CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for card in cards:
        writer.writerow([card.front, card.back, card.id])
    return out.getvalue().encode("utf-8")
