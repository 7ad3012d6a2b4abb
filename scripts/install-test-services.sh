#!/bin/sh
# Installs the system programs the test suite drives, when they are missing:
#   chromium, chromium-driver  the headless browser the page tests (tests/pages/) drive through selenium
#   redis-server               a real Redis for the tests that need one
# `make test` runs this before pytest. It says what it does; it never skips silently:
# without root (or apt-get) it names what is missing and exits 1, so the tests that need
# those programs cannot quietly pass.
set -eu

missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v chromedriver >/dev/null 2>&1 || missing="$missing chromium-driver"
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"

if [ -z "$missing" ]; then
    echo "install-test-services: chromium, chromedriver and redis-server are installed"
    exit 0
fi
echo "install-test-services: missing:$missing"
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-services: not root or no apt-get; install them yourself, e.g." >&2
    echo "    sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "install-test-services: apt-get install -y$missing"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends $missing; then
    echo "install-test-services: apt-get update, then install again"
    apt-get update
    apt-get install -y --no-install-recommends $missing
fi
echo "install-test-services: installed$missing"
