"""The quotation check: exact, typography-tolerant, and loud about every altered quotation."""
from pathlib import Path

import pytest

from book.config import ROOT
from book.pipeline import gather
from book.quotes import fold, occurs_in


def check(root: Path):
    return gather(root).report


def rewrite(root: Path, old: str, new: str, name: str = "01-life.md") -> None:
    path = root / "chapters" / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def codes(report):
    return [d.code for d in report.items]


def test_the_real_book_checks_clean():
    # Its speed is the benchmark script's business (scripts/benchmark.py), never a timed test.
    report = check(ROOT)
    assert [str(d) for d in report.items] == []


def test_fixture_book_checks_clean(tiny):
    assert [str(d) for d in check(tiny).errors] == []


FAVOURITE = '"the favourite of the whole Party"'


@pytest.mark.parametrize("altered", [
    '"the favourite of the entire Party"',          # one word changed
    '"the whole favourite of the Party"',            # words reordered
    '"the price mechanism was the only available"',  # a sentence from a different source
    '"the favourite of the whole party"',            # case matters: the source says Party
])
def test_altered_quotations_are_caught(tiny, altered):
    rewrite(tiny, FAVOURITE, altered)
    report = check(tiny)
    assert codes(report).count("quote.mismatch") == 1


def test_quotation_cut_across_two_paragraphs_is_caught(tiny):
    # The end of Simkin's para. 1 and the start of para. 2 are adjacent in the file, but a
    # quotation must sit inside one paragraph.
    rewrite(tiny, "Nikolai Bukharin was born in Moscow.[@spartacus, para. 1]",
            '"took part in the 1905 Revolution. In 1906 he joined the Bolsheviks."[@spartacus, paras. 1-2]')
    assert "quote.mismatch" in codes(check(tiny))


def test_quotation_in_the_wrong_paragraph_is_caught(tiny):
    rewrite(tiny, "[Lenin, quoted in @spartacus, para. 14]", "[Lenin, quoted in @spartacus, para. 13]")
    assert "quote.mismatch" in codes(check(tiny))


def test_mismatch_message_names_file_line_and_nearest_text(tiny):
    rewrite(tiny, FAVOURITE, '"the favourite of the entire Party"')
    [problem] = [d for d in check(tiny).items if d.code == "quote.mismatch"]
    assert str(problem).splitlines()[0] == (
        "chapters/01-life.md:36:77: error: quotation “the favourite of the entire Party” "
        "is not in the cited paragraph (spartacus) [quote.mismatch]")
    assert "nearest text in 'spartacus', para. 14: “the favourite of the whole Party." in problem.hint


def test_ellipsis_and_brackets_split_a_quotation_into_ordered_fragments(tiny):
    rewrite(tiny, FAVOURITE, '"Bukharin is not only the most valuable theoretician … [he] may be considered the favourite"')
    assert "quote.mismatch" not in codes(check(tiny))
    rewrite(tiny, '"Bukharin is not only the most valuable theoretician … [he] may be considered the favourite"',
            '"may be considered the favourite … Bukharin is not only the most valuable theoretician"')
    assert "quote.mismatch" in codes(check(tiny))


def test_quotation_without_citation_is_an_error(tiny):
    rewrite(tiny, "Moscow.[@spartacus, para. 1] Lenin", "Moscow.\n\nLenin")
    rewrite(tiny, "[Lenin, quoted in @spartacus, para. 14][^calendar]", "[^calendar]")
    assert "quote.uncited" in codes(check(tiny))


def test_unknown_citation_key_is_an_error_with_its_line(tiny):
    rewrite(tiny, "[@spartacus, para. 39]", "[@spartakus, para. 39]")
    [problem] = [d for d in check(tiny).items if d.code == "cite.unknown-key"]
    assert (problem.file, problem.line) == ("chapters/01-life.md", 50)


def test_locator_beyond_the_source_is_an_error(tiny):
    rewrite(tiny, "[@spartacus, para. 39]", "[@spartacus, para. 400]")
    assert "cite.bad-locator" in codes(check(tiny))


def test_uncited_paragraph_of_fact_is_a_warning(tiny):
    rewrite(tiny, "He was executed on 15 March 1938.[@spartacus, para. 39]", "He was executed on 15 March 1938.")
    report = check(tiny)
    assert [d.code for d in report.warnings if d.code == "cite.missing"] == ["cite.missing"]
    assert not report.failed() and report.failed(strict=True)


def test_footnote_reference_without_its_note_is_an_error(tiny):
    rewrite(tiny, "[^calendar]: Our own note: dates before 1918 may be Old Style.", "")
    [problem] = [d for d in check(tiny).items if d.code == "note.undefined"]
    assert problem.line == 36


def test_folding_covers_typography_only():
    assert fold("“Enrich yourselves!” — he said") == fold('"Enrich yourselves!"-he said')
    assert occurs_in("‘unstable element’", "a certified ‘unstable element’ who left")
    assert not occurs_in("stable element", "a certified ‘unstable element’ who left")


def test_one_source_twice_in_one_note_is_a_warning_and_a_list_locator_works(tiny):
    rewrite(tiny, "[@spartacus, para. 1] Lenin", "[@spartacus, para. 1; @spartacus, para. 2] Lenin")
    rewrite(tiny, "[Lenin, quoted in @spartacus, para. 14]", "[Lenin, quoted in @spartacus, paras. 2, 14]")
    report = check(tiny)
    assert [d.code for d in report.items if d.code.startswith(("cite.", "quote."))] == ["cite.repeat"]
