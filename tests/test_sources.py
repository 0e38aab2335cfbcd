"""The corpus: seeds kept byte for byte, spans that cover every line once, paragraphs as cited."""
import hashlib

from book.sources import SOURCES_DIR, check_registry, csl_items, load_registry

# The hashes of ../shared/seeds at the time they were copied: a changed seed must be noticed.
SEED_SHA256 = {
    "000_387dbbe65f2120bc.txt": "f8852b349a5e478b220ae5e1b363d84b89ae54fbe1721b3b914338bc2028c902",
    "001_86c37a92ad56db51.txt": "ce30892343632da73c81df441b49271d2f508398e30084096a94947271bc193a",
    "003_f8efa5d9cf301ed9.txt": "12c6996a9c6d01af526dd9a89f990cf1836d3f94b43151ec99589b1aeb4daa1f",
}


def test_seeds_are_byte_for_byte_copies():
    for name, expected in SEED_SHA256.items():
        assert hashlib.sha256((SOURCES_DIR / "seeds" / name).read_bytes()).hexdigest() == expected
    assert sorted(p.name for p in (SOURCES_DIR / "seeds").iterdir()) == sorted(SEED_SHA256)


def test_spans_cover_every_line_exactly_once():
    assert check_registry() == []


def test_span_check_finds_gaps_and_overlaps(tmp_path):
    registry = (SOURCES_DIR / "registry.yaml").read_text(encoding="utf-8")
    (tmp_path / "seeds").mkdir()
    for name in SEED_SHA256:
        (tmp_path / "seeds" / name).write_bytes((SOURCES_DIR / "seeds" / name).read_bytes())
    broken = registry.replace("{lines: 100-111, source: encyclopedia}", "{lines: 99-110, source: encyclopedia}")
    (tmp_path / "registry.yaml").write_text(broken, encoding="utf-8")
    problems = check_registry(tmp_path)
    assert "001_86c37a92ad56db51.txt: overlap at line 99 (span 99-110)" in problems
    assert "001_86c37a92ad56db51.txt: gap before line 111 (span 112-130)" in problems


def test_every_source_has_bibliography_and_annotation():
    sources = load_registry()
    assert len(sources) == 13
    for sid, source in sources.items():
        assert source.paragraphs, sid
        assert source.meta.get("title"), sid
        assert len(source.meta.get("note", "").split()) >= 40, f"{sid} needs a note on what it is"
    assert {item["id"] for item in csl_items(sources)} == set(sources)


def test_paragraphs_are_the_non_blank_lines_of_the_spans():
    gray = load_registry()["gray-2022"]
    assert gray.paragraph(5).text.startswith("The 49-year-old Bolshevik revolutionary Nikolai Bukharin")
    assert gray.paragraph(5).line == 13
    # Noise between spans (the newsletter box, the job list) is not part of the source.
    assert not any("Administration / Office" in p.text for p in gray.paragraphs)
