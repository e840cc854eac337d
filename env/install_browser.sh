#!/usr/bin/env bash
# Install Debian's headless-capable Chromium and its matching chromedriver for tests/test_browser.py.
# Idempotent: does nothing when both are already present. Needs root (CI runs as root) and the Debian mirror.
# The browser test drives them through Selenium with an explicit driver path, so nothing is downloaded at test time.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if have chromium && have chromedriver; then
    echo "install_browser: chromium and chromedriver already installed ($(chromium --version 2>/dev/null || echo '?'))"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if have sudo; then SUDO="sudo"; else
        echo "install_browser: need root (or sudo) to apt-get install chromium chromium-driver" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
echo "install_browser: installed $(chromium --version 2>/dev/null || echo chromium), $(chromedriver --version 2>/dev/null | head -1)"
