#!/usr/bin/env bash
# The system components the kit's real-component tests and the course server use, installed once per machine.
#   Debian packages (apt, as root): chromium (browser tests through Playwright), postgresql (the gradebook on a
#   server), texlive-latex-base (pdflatex for the lab reports' PDF, `python -m lablib.report`: amsmath, amssymb,
#   graphicx, color, alltt, hyperref, geometry are all in it; measured on Debian 12 with --no-install-recommends:
#   15 packages, 39 MB downloaded, about 160 MB on disk with the formats it builds, 27 s with a warm apt cache and
#   140 s from an empty one), python3-venv (the course server's environment, .venv-hub). Without root or apt,
#   nothing is installed and the tests that need a missing component skip, saying why (tests/test_report.py fails
#   instead when CI is set: CI has root and apt).
#   npm, into the repository's own prefix .node/ (never globally): configurable-http-proxy, JupyterHub's proxy
#   (the course server, grading/hub/).
# Called by the Makefile (stamp .venv/.system-deps); safe to run again.
set -uo pipefail

APT_PACKAGES=(chromium postgresql texlive-latex-base python3-venv)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
            || echo "warning: apt-get could not install ${missing[*]}; the tests that need them will skip" >&2
    else
        echo "note: not root (or no apt-get): not installing ${missing[*]}; the tests that need them will skip" >&2
    fi
fi

CHP_VERSION=5.3.0
HERE="$(cd "$(dirname "$0")/.." && pwd)"
if [[ ! -x "$HERE/.node/node_modules/.bin/configurable-http-proxy" ]]; then
    if command -v npm >/dev/null; then
        echo "installing configurable-http-proxy@$CHP_VERSION into $HERE/.node (npm, local prefix)"
        npm install --silent --no-fund --no-audit --prefix "$HERE/.node" "configurable-http-proxy@$CHP_VERSION" >/dev/null \
            || echo "warning: npm could not install configurable-http-proxy; the course server's tests will skip" >&2
    else
        echo "note: npm is missing: not installing configurable-http-proxy; the course server's tests will skip" >&2
    fi
fi
exit 0
