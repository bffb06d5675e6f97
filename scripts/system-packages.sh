#!/bin/sh
# Debian packages the tests need, installed when missing (only as root: CI runs as root on a
# fresh machine; elsewhere the tests that need one fail with a message naming the package).
# One line per package: "<command it provides> <debian package>".
set -eu

PACKAGES="
chromium-headless-shell chromium-headless-shell
systemd-analyze systemd
flock util-linux
pg_ctl postgresql
java openjdk-17-jre-headless
"

# Debian's postgresql keeps its server commands off PATH, in /usr/lib/postgresql/<ver>/bin
have() {
    command -v "$1" >/dev/null 2>&1 && return 0
    for found in /usr/lib/postgresql/*/bin/"$1"; do
        [ -x "$found" ] && return 0
    done
    return 1
}

missing=""
for pair in $(echo "$PACKAGES" | tr ' ' ':'); do
    have "${pair%%:*}" || missing="$missing ${pair#*:}"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "missing system packages:$missing (install them: sudo apt-get install$missing)" >&2
    exit 0
fi
# other installs may hold dpkg's lock for a while: wait for it rather than fail
apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends $missing
