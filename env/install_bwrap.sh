#!/usr/bin/env bash
# Installs bubblewrap, the unprivileged sandbox that workbook.sandbox uses when it is not run as root
# (network, mount and PID namespaces, read-only root, tmpfs work dir). Debian/Ubuntu; needs root (CI, containers).
set -euo pipefail
if command -v bwrap >/dev/null 2>&1; then
    echo "bubblewrap already installed: $(bwrap --version)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install_bwrap.sh: run as root (apt-get install -y bubblewrap)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends bubblewrap
bwrap --version
