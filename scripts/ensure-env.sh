#!/usr/bin/env bash
# Make sure the project's virtual environment exists and holds the project and its test tools.
# Re-installs only when pyproject.toml changes. Installs Java (for epubcheck), HarfBuzz's subsetter
# (for WeasyPrint's font subsetting), Chromium and Node (for Ace by DAISY, the EPUB's dark-theme
# test and the web edition's browser tests) from Debian when they are missing and we are root. Ace goes into .tools/ace (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  missing=()
  command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
  ldconfig -p 2>/dev/null | grep -q libharfbuzz-subset || missing+=(libharfbuzz-subset0)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} from Debian"
    { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
      echo "warning: could not install ${missing[*]}; epubcheck needs Java, Ace Node and Chromium" >&2
  fi
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test]"
  rm -f .venv/.installed-* && touch "$stamp"
fi

# The builder's bytecode, compiled here as pip compiles an installed package's, so that a build
# does not compile book/ anew on every run (where PYTHONDONTWRITEBYTECODE keeps Python from saving
# it). Python checks each .pyc against its source and compiles a changed module itself. The
# templates likewise (book/templates.py: Jinja's compiled templates, checked against their source).
.venv/bin/python -m compileall -q book
.venv/bin/python -m book.templates --precompile >/dev/null || echo "warning: could not precompile the templates" >&2

# Ace by DAISY, the EPUB accessibility checker, at a fixed version. --ignore-scripts: puppeteer's
# install script would download a browser of its own; the tests point it at Debian's chromium.
ace_version=1.4.6
ace_stamp=.tools/ace/.installed-$ace_version
if [ ! -f "$ace_stamp" ] && command -v npm >/dev/null 2>&1; then
  mkdir -p .tools/ace
  if npm install --prefix .tools/ace --ignore-scripts --save-exact --no-audit --no-fund --loglevel=error \
       "@daisy/ace@$ace_version" >/dev/null; then
    rm -f .tools/ace/.installed-* && touch "$ace_stamp"
  else
    echo "warning: could not install Ace by DAISY; the EPUB accessibility tests will fail" >&2
  fi
fi

# axe-core, the accessibility engine the web edition's browser tests inject (tests/test_web.py),
# at a fixed version, likewise into .tools/ with --ignore-scripts.
axe_version=4.14.1
axe_stamp=.tools/.installed-axe-core-$axe_version
if [ ! -f "$axe_stamp" ] && command -v npm >/dev/null 2>&1; then
  mkdir -p .tools
  if npm install --prefix .tools --ignore-scripts --save-exact --no-audit --no-fund --loglevel=error \
       "axe-core@$axe_version" >/dev/null; then
    rm -f .tools/.installed-axe-core-* && touch "$axe_stamp"
  else
    echo "warning: could not install axe-core; the web edition's accessibility tests will fail" >&2
  fi
fi
