#!/usr/bin/env bash
# A real DAV server for the tests: throwaway config and data in DIR, a free
# loopback port, stopped by PID.
#   dav_server.sh KIND start DIR [PORT]  - KIND radicale|xandikos|sabre;
#                                          prints the port; DIR/pid,
#                                          DIR/port, DIR/log
#   dav_server.sh KIND stop DIR          - SIGTERM by PID, wait (bounded)
#   dav_server.sh KIND check             - exit 0 if installed, else 77
# Users: DIR/users, plain "user:password" lines (alice:secret, bob:hunter2
# to begin with; tests append more, every server rereads the file on each
# login). DAV_NOAUTH=1: Radicale without authentication.
#   radicale  Radicale 3 (Debian radicale): /USER/ is each user's home
#   xandikos  Xandikos (Debian xandikos) behind Basic auth
#             (xandikos_auth.py: Xandikos has none of its own); one
#             principal /alice/, homes /alice/contacts/ /alice/calendars/
#   sabre     sabre/dav 1.8 (Debian php-sabre-dav) under `php -S` with a
#             SQLite PDO backend (sabre/server.php); base /dav.php/, homes
#             /dav.php/addressbooks/USER/ /dav.php/calendars/USER/; no
#             sync-collection
# Each server runs in a session of its own (setsid, which execs: $! stays
# the server): a test that restarts it from a forked Check child does not
# see it killed with that child's process group.
# Exit 77 when the server is not installed (the caller skips loudly).
set -euo pipefail
kind=${1:?radicale|xandikos|sabre}
cmd=${2:?start|stop}
W=${3:-}
[ "$cmd" = check ] || [ -n "$W" ] || { echo "usage: $0 KIND start|stop DIR [PORT]" >&2; exit 2; }
PY=/usr/bin/python3 # not a pyenv shim: $! must be the server itself
HERE=$(cd "$(dirname "$0")" && pwd)

need_radicale() {
  command -v radicale >/dev/null 2>&1 || { echo "radicale not installed" >&2; exit 77; }
}

need_xandikos() {
  $PY -c 'import xandikos.web, aiohttp' 2>/dev/null || { echo "xandikos not installed" >&2; exit 77; }
}

need_sabre() {
  { command -v php >/dev/null 2>&1 && [ -f /usr/share/php/Sabre/autoload.php ] &&
    php -r 'exit(extension_loaded("pdo_sqlite") ? 0 : 1);'; } || { echo "php-sabre-dav/php-sqlite3 not installed" >&2; exit 77; }
}

start_radicale() {
  need_radicale
  # DAV_STORE=dir: keep the collections elsewhere, e.g. on tmpfs where
  # Radicale's fsync per file is free (the 10k-card benchmark)
  local store=${DAV_STORE:-$W/collections} auth
  mkdir -p "$store"
  if [ "${DAV_NOAUTH:-0}" = 1 ]; then
    auth=$'[auth]\ntype = none\n[rights]\ntype = authenticated'
  else
    auth=$'[auth]\ntype = htpasswd\nhtpasswd_filename = '"$W"$'/users\nhtpasswd_encryption = plain\ndelay = 0\n[rights]\ntype = owner_only'
  fi
  cat >"$W/config" <<CONF
[server]
hosts = 127.0.0.1:$port
max_content_length = 200000000
timeout = 60
$auth
[storage]
filesystem_folder = $store
[web]
type = none
[logging]
level = warning
mask_passwords = True
CONF
  # Radicale is a Python module; run its entry point with the system
  # python so that $! is the server.
  setsid $PY -m radicale --config "$W/config" >"$W/log" 2>&1 &
  pid=$!
}

start_xandikos() {
  need_xandikos
  setsid $PY "$HERE/xandikos_auth.py" "${DAV_STORE:-$W/store}" "$W/users" "$port" >"$W/log" 2>&1 &
  pid=$!
}

start_sabre() {
  need_sabre
  local db=${DAV_STORE:-$W}/sabre.sqlite
  if [ ! -f "$db" ]; then
    DAV_DB=$db php -r '$p = new PDO("sqlite:" . getenv("DAV_DB"));
      $p->exec(file_get_contents($argv[1]));' "$HERE/sabre/schema.sql"
  fi
  # one PHP process serves all requests (its pid is the server); more
  # workers would make SQLite writers wait on each other
  DAV_DB=$db DAV_USERS=$W/users setsid php -d memory_limit=1G -S "127.0.0.1:$port" \
    "$HERE/sabre/server.php" >"$W/log" 2>&1 &
  pid=$!
}

case "$cmd" in
check)
  case "$kind" in
  radicale | xandikos | sabre) "need_$kind" ;;
  *) echo "unknown server $kind" >&2; exit 2 ;;
  esac
  ;;
start)
  port=${4:-}
  if [ -z "$port" ]; then
    port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  fi
  # kept across restarts (tests add their users to it)
  [ -f "$W/users" ] || printf 'alice:secret\nbob:hunter2\n' >"$W/users"
  case "$kind" in
  radicale) start_radicale ;;
  xandikos) start_xandikos ;;
  sabre) start_sabre ;;
  *) echo "unknown server $kind" >&2; exit 2 ;;
  esac
  echo "$pid" >"$W/pid"
  echo "$port" >"$W/port"
  for _ in $(seq 1 200); do
    # any HTTP answer (401 included) means it listens
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/.well-known/carddav" || true)
    if [ -n "$code" ] && [ "$code" != 000 ]; then
      echo "$port"
      exit 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$W/log" >&2; exit 1; }
    sleep 0.05
  done
  echo "$kind did not start" >&2
  kill "$pid" 2>/dev/null || true
  exit 1
  ;;
stop)
  [ -f "$W/pid" ] || exit 0
  pid=$(cat "$W/pid")
  kill "$pid" 2>/dev/null || true
  # gone, or a zombie: nobody may reap it soon (PID 1 in a container)
  alive() {
    local st
    st=$(ps -o stat= -p "$1" 2>/dev/null || true)
    [ -n "$st" ] && [ "${st#Z}" = "$st" ]
  }
  for _ in $(seq 1 100); do
    alive "$pid" || { rm -f "$W/pid"; exit 0; }
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$W/pid"
  ;;
*)
  echo "usage: $0 radicale|xandikos|sabre start|stop DIR [PORT]" >&2
  exit 2
  ;;
esac
