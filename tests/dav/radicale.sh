#!/usr/bin/env bash
# Radicale for the DAV tests: a throwaway server on a free loopback port.
#   radicale.sh start DIR [PORT]  - config, htpasswd users, start; prints the
#                                   port; DIR/pid, DIR/port, DIR/log
#   radicale.sh stop DIR          - SIGTERM by PID, wait (bounded)
# Users (plain htpasswd): alice:secret, bob:hunter2; DAV_NOAUTH=1 starts it
# without authentication (anyone may do anything: conformance suite).
# Exit 77 when Radicale is not installed (the caller skips loudly).
set -euo pipefail
cmd=${1:?start|stop}
W=${2:?dir}
PY=/usr/bin/python3 # not a pyenv shim: $! must be the server itself

case "$cmd" in
start)
  command -v radicale >/dev/null 2>&1 || { echo "radicale not installed" >&2; exit 77; }
  # DAV_STORE=dir: keep the collections elsewhere, e.g. on tmpfs where
  # Radicale's fsync per file is free (the 10k-card benchmark)
  store=${DAV_STORE:-$W/collections}
  mkdir -p "$store"
  port=${3:-}
  if [ -z "$port" ]; then
    port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  fi
  # kept across restarts (tests add their users to it)
  [ -f "$W/users" ] || printf 'alice:secret\nbob:hunter2\n' >"$W/users"
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
  # Radicale is a Python module; run its entry point with the system python
  # so that $! is the server.
  $PY -m radicale --config "$W/config" >"$W/log" 2>&1 &
  pid=$!
  echo "$pid" >"$W/pid"
  echo "$port" >"$W/port"
  for _ in $(seq 1 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/.well-known/carddav"; then
      echo "$port"
      exit 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$W/log" >&2; exit 1; }
    sleep 0.05
  done
  echo "radicale did not start" >&2
  kill "$pid" 2>/dev/null || true
  exit 1
  ;;
stop)
  [ -f "$W/pid" ] || exit 0
  pid=$(cat "$W/pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$W/pid"; exit 0; }
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$W/pid"
  ;;
*)
  echo "usage: $0 start|stop DIR [PORT]" >&2
  exit 2
  ;;
esac
