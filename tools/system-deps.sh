#!/usr/bin/env bash
# The system components the kit's real-component tests and the course server use, installed once per machine.
#   Debian packages (apt, as root): chromium (browser tests through Playwright), postgresql (the gradebook on a
#   server), texlive-latex-base (pdflatex for the lab reports' PDF, `python -m lablib.report`: amsmath, amssymb,
#   graphicx, color, alltt, hyperref, geometry are all in it; measured on Debian 12 with --no-install-recommends:
#   15 packages, 39 MB downloaded, about 160 MB on disk with the formats it builds, 27 s with a warm apt cache and
#   140 s from an empty one). Without root or apt, nothing is installed and the tests that need a missing component
#   skip, saying why (tests/test_report.py fails instead when CI is set: CI has root and apt).
# Called by the Makefile (stamp .venv/.system-deps); safe to run again.
set -uo pipefail

APT_PACKAGES=(chromium postgresql texlive-latex-base)

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
exit 0
