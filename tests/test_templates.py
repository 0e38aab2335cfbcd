"""The precompiled templates (book/templates.py): used when they match their sources, never when stale or torn."""
from __future__ import annotations

import pytest
from jinja2 import Environment

from book.templates import make_environment, precompile, template_facts


@pytest.fixture
def folders(tmp_path):
    templates, compiled = tmp_path / "templates", tmp_path / "compiled"
    templates.mkdir()
    (templates / "page.html.j2").write_text('{% include "part.html.j2" %} {{ title }}', encoding="utf-8")
    (templates / "part.html.j2").write_text("<h1>{{ heading }}</h1>", encoding="utf-8")
    (templates / "anki.html").write_text("{{#Front}}{{Front}}{{/Front}}", encoding="utf-8")  # not Jinja
    return templates, compiled


def no_compiling(monkeypatch):
    def refuse(self, *args, **kwargs):
        raise AssertionError("compiled a template that was precompiled")

    monkeypatch.setattr(Environment, "compile", refuse)
    monkeypatch.setattr(Environment, "parse", refuse)


def test_precompiled_templates_are_used_without_compiling(folders, monkeypatch):
    templates, compiled = folders
    assert precompile(make_environment(templates, compiled, write=True)) == 2
    no_compiling(monkeypatch)
    env = make_environment(templates, compiled, write=False)
    assert env.get_template("page.html.j2").render(title="T", heading="H") == "<h1>H</h1> T"
    assert template_facts(env, "page.html.j2") == (["part.html.j2"], {"title"})


def test_a_changed_template_is_compiled_again(folders):
    templates, compiled = folders
    precompile(make_environment(templates, compiled, write=True))
    (templates / "part.html.j2").write_text("<h2>{{ heading }} {{ more }}</h2>", encoding="utf-8")
    env = make_environment(templates, compiled, write=False)
    assert env.get_template("page.html.j2").render(title="T", heading="H", more="M") == "<h2>H M</h2> T"
    assert template_facts(env, "part.html.j2") == ([], {"heading", "more"})


def test_a_torn_entry_is_compiled_again(folders):
    templates, compiled = folders
    precompile(make_environment(templates, compiled, write=True))
    entries = sorted(compiled.iterdir())
    assert len(entries) == 4  # bytecode and facts of each template
    for number, entry in enumerate(entries):
        data = entry.read_bytes()
        entry.write_bytes(data[: len(data) // 2] if number % 2 else data[:-8] + b"X" * 8)
    env = make_environment(templates, compiled, write=False)
    assert env.get_template("page.html.j2").render(title="T", heading="H") == "<h1>H</h1> T"
    assert template_facts(env, "page.html.j2") == (["part.html.j2"], {"title"})


def test_a_build_told_not_to_write_bytecode_writes_nothing(folders):
    templates, compiled = folders
    env = make_environment(templates, compiled, write=False)
    env.get_template("page.html.j2").render(title="T", heading="H")
    template_facts(env, "page.html.j2")
    assert not compiled.exists()
