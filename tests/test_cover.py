"""The cover's own process: it loads WeasyPrint without ctypes' library search, and draws what the
build would draw itself."""
import io
import subprocess
import sys

from pathlib import Path

from PIL import Image, ImageChops

from book import cli, cover
from book.config import ROOT, load_book_config

# In a fresh interpreter: the processes that loading WeasyPrint starts (ldconfig, gcc, ld for each
# library name the loader does not know) and the native libraries it ends up with.
LOAD = """
import sys
from book.native_libraries import without_library_search
started = []
sys.addaudithook(lambda event, args: started.append(args[0]) if event == "subprocess.Popen" else None)
if sys.argv[1] == "without":
    with without_library_search():
        import weasyprint
else:
    import weasyprint
libraries = sorted({line.split()[-1] for line in open("/proc/self/maps") if ".so" in line})
print(len(started)); print("\\n".join(libraries))
"""


def load_weasyprint(how: str) -> tuple[int, list[str]]:
    done = subprocess.run([sys.executable, "-c", LOAD, how], capture_output=True, text=True, cwd=ROOT, check=True)
    started, *libraries = done.stdout.splitlines()
    return int(started), libraries


def test_weasyprint_loads_the_same_libraries_without_the_library_search():
    searched, libraries = load_weasyprint("with")
    unsearched, same = load_weasyprint("without")
    assert searched > 0 and unsearched == 0  # no ldconfig, gcc or ld
    assert same == libraries and any("libpango" in name for name in same)


def test_the_cover_process_draws_what_the_build_draws_itself(tmp_path):
    markup = cover.cover_markup(load_book_config(ROOT))
    process = cover.drawing_process(ROOT)  # as a first build starts it (cover.start_early)
    process.stdin.write(markup.encode("utf-8"))
    process.stdin.close()
    drawn = cover.drawn(process)
    assert drawn is not None
    here = Image.open(io.BytesIO(cover.draw_cover(markup, ROOT)))
    there = Image.open(io.BytesIO(drawn))
    assert there.size == here.size == (1600, 2400)
    assert ImageChops.difference(here.convert("RGB"), there.convert("RGB")).getbbox() is None


def test_the_cover_process_stops_without_drawing_when_not_needed():
    process = cover.drawing_process(ROOT)
    process.stdin.close()  # the build ended, or found the cover cached
    assert process.stdout.read() == b"" and process.wait(timeout=60) == 0
    process.stdout.close()


def running_children() -> set[int]:
    return {int(pid) for task in Path("/proc/self/task").iterdir() for pid in (task / "children").read_text().split()}


def test_a_failed_build_leaves_no_cover_process_behind(tiny, tmp_path, monkeypatch, capsys):
    real, started = cover.drawing_process, []
    monkeypatch.setattr(cover, "drawing_process", lambda root: started.append(real(root)) or started[-1])
    (tiny / "chapters" / "book.yaml").write_text("title: [unclosed\n", encoding="utf-8")
    assert cli.main(["epub", "--root", str(tiny), "--out", str(tmp_path / "out"), "--quiet"]) == 1
    assert "[yaml.syntax]" in capsys.readouterr().err
    assert started  # as a first build of the EPUB starts (cover.start_early)
    assert not {process.pid for process in started} & running_children()
