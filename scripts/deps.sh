#!/usr/bin/env bash
# Install the Debian packages tsps needs, only those missing.
#   scripts/deps.sh build   - to build and run tspsd
#   scripts/deps.sh test    - also what the whole test suite needs
set -euo pipefail
what=${1:-build}
pkgs=(build-essential cmake pkg-config liblmdb-dev libevent-dev libssl-dev
      libspandsp-dev libsndfile1-dev libespeak-ng-dev libsamplerate0-dev # media front
      openssl libprotobuf-c-dev protobuf-c-compiler libical-dev libinih-dev
      libjansson-dev libcurl4-openssl-dev libxml2-dev libosip2-dev check
      libsubunit-dev
      libgmime-3.0-dev libpoppler-glib-dev libzip-dev) # related-item adapters
if [ "$what" = test ]; then
  pkgs+=(libphonenumber-dev clang libclang-rt-14-dev valgrind sip-tester
         radicale apache2-utils chromium nodejs npm clang-format curl
         lmdb-utils
         espeak-ng sox baresip-core # media front tests (tests/media)
         # the other DAV servers of tests/dav (dav_server.sh)
         xandikos php-sabre-dav php-cli php-sqlite3
         # real CardDAV clients of tests/unit/check_dav_clients.c
         khard vdirsyncer
         dovecot-imapd libcairo2-dev fonts-dejavu-core # related-item tests
         apache2 # its mod_dav serves the docs-dav tests (apache2 -X, loopback)
         etcd-server etcd-client kamailio) # cluster tests (tests/cluster)
  # Python bindings (bindings/python): run by /usr/bin/python3, which sees
  # Debian's modules (a pyenv python3 on PATH may not).
  pkgs+=(python3-cffi python3-protobuf protobuf-compiler python3-pytest
         python3-pip python3-setuptools python3-dev python3-venv)
fi
missing=()
for p in "${pkgs[@]}"; do
  case "$p" in
    # A Node.js from elsewhere (e.g. a nodesource build that bundles npm)
    # conflicts with Debian's npm: only install what has no command yet.
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
