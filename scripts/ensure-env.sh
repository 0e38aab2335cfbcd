#!/usr/bin/env bash
# Make sure the project's virtual environment exists and holds the project and its test tools.
# Re-installs only when pyproject.toml changes. Installs Java (for epubcheck) and HarfBuzz's
# subsetter (for WeasyPrint's font subsetting) from Debian when they are missing and we are root.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  missing=()
  command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
  ldconfig -p 2>/dev/null | grep -q libharfbuzz-subset || missing+=(libharfbuzz-subset0)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} from Debian"
    { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
      echo "warning: could not install ${missing[*]}; epubcheck tests need Java" >&2
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

# --- Web edition tests (tests/test_web.py) -------------------------------------------------
# Debian's Chromium for Playwright (never `playwright install`, which downloads a browser), and
# axe-core from npm into the git-ignored .tools/ (--ignore-scripts: no install scripts run).
# The same apt line may also appear in the EPUB accessibility block; running it twice is harmless.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing chromium from Debian (for the web edition's browser tests)"
  { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } ||
    echo "warning: could not install chromium; the web edition's browser tests will be skipped" >&2
fi
web_tools_stamp=.tools/.web-tools-axe-core-4
if [ ! -f "$web_tools_stamp" ]; then
  if command -v npm >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] &&
       apt-get install -y -qq npm >/dev/null; }; then
    mkdir -p .tools
    if npm install --prefix .tools --ignore-scripts --no-audit --no-fund --silent "axe-core@^4" >/dev/null; then
      touch "$web_tools_stamp"
    else
      echo "warning: could not install axe-core; the accessibility test will be skipped" >&2
    fi
  else
    echo "warning: npm is missing; the accessibility test will be skipped" >&2
  fi
fi
# --- end of the web edition's block ------------------------------------------------------
