#!/usr/bin/env bash
# The system components the kit's real-component tests and the course server use, installed once per machine.
#   Debian packages (apt, as root): chromium (browser tests through Playwright), postgresql (the gradebook on a
#   server), python3-venv (the course server's environment, .venv-hub). Without root or apt, nothing is installed and the tests that need a missing component skip, saying why.
#   npm, into the repository's own prefix .node/ (never globally): configurable-http-proxy, JupyterHub's proxy
#   (the course server, grading/hub/).
# Called by the Makefile (stamp .venv/.system-deps); safe to run again.
set -uo pipefail

APT_PACKAGES=(chromium postgresql python3-venv)

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
