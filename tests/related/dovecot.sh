#!/usr/bin/env bash
# Dovecot for the related-items tests: a throwaway IMAP server on free
# loopback ports, one passwd-file user (alice:secret) whose Maildir is
# DIR/mail/alice (fill it before or after start: write files into cur/,
# then `dovecot.sh own DIR` so the mail user may read them).
#   dovecot.sh start DIR [tls]  - config (+ with tls: a test CA DIR/ca.pem
#                                 and a server cert for 127.0.0.1; imaps
#                                 listener, STARTTLS on imap); start;
#                                 prints "IMAP_PORT IMAPS_PORT" (0 = none)
#   dovecot.sh stop DIR         - SIGTERM the master by PID, wait (bounded)
#   dovecot.sh own DIR          - give DIR/mail to the mail user
# Exit 77 when Dovecot is not installed (the caller skips loudly).
set -euo pipefail
cmd=${1:?start|stop|own}
W=${2:?dir}
PY=/usr/bin/python3
DOVECOT=/usr/sbin/dovecot

if [ "$(id -u)" = 0 ]; then
  MU=nobody MG=nogroup
else
  MU=$(id -un) MG=$(id -gn)
fi

free_port() {
  $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

case "$cmd" in
own)
  [ "$(id -u)" = 0 ] && chown -R "$MU:$MG" "$W/mail"
  exit 0
  ;;
start)
  [ -x $DOVECOT ] || { echo "dovecot not installed (dovecot-imapd)" >&2; exit 77; }
  # as root, mktemp -d is 0700: the mail user could not reach its Maildir
  chmod 755 "$W"
  mkdir -p "$W/mail/alice/cur" "$W/mail/alice/new" "$W/mail/alice/tmp" "$W/run"
  printf 'alice:{PLAIN}secret::::::\n' >"$W/passwd"
  port=$(free_port)
  sport=0
  ssl="ssl = no"
  if [ "${3:-}" = tls ]; then
    sport=$(free_port)
    # a test CA and a server certificate for 127.0.0.1 signed by it
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=tsps test CA" \
      -keyout "$W/ca.key" -out "$W/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
      -keyout "$W/key.pem" -out "$W/srv.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$W/san.ext"
    openssl x509 -req -in "$W/srv.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" \
      -CAcreateserial -days 2 -extfile "$W/san.ext" -out "$W/cert.pem" 2>/dev/null
    ssl="ssl = yes
ssl_cert = <$W/cert.pem
ssl_key = <$W/key.pem"
  fi
  users=""
  if [ "$(id -u)" != 0 ]; then
    users="default_login_user = $MU
default_internal_user = $MU
default_internal_group = $MG"
  fi
  cat >"$W/dovecot.conf" <<CONF
base_dir = $W/run
state_dir = $W/run
log_path = $W/log
info_log_path = $W/log
protocols = imap
listen = 127.0.0.1
$ssl
disable_plaintext_auth = no
auth_mechanisms = plain login
$users
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $W/passwd
}
userdb {
  driver = static
  args = uid=$MU gid=$MG home=$W/mail/%u
}
mail_location = maildir:$W/mail/%u
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    auto = create
    special_use = \\Sent
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $sport
  }
  chroot =
}
service anvil {
  chroot =
}
CONF
  [ "$(id -u)" = 0 ] && chown -R "$MU:$MG" "$W/mail"
  $DOVECOT -F -c "$W/dovecot.conf" >>"$W/stdout" 2>&1 &
  pid=$!
  echo "$pid" >"$W/pid"
  for _ in $(seq 1 200); do
    if $PY -c "import socket,sys; s=socket.create_connection(('127.0.0.1',$port),1); sys.exit(0 if s.recv(100).startswith(b'* OK') else 1)" 2>/dev/null; then
      echo "$port $sport"
      exit 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$W/stdout" "$W/log" >&2 2>/dev/null; exit 1; }
    sleep 0.05
  done
  echo "dovecot did not start" >&2
  exit 1
  ;;
stop)
  [ -f "$W/pid" ] || exit 0
  pid=$(cat "$W/pid")
  # the master's children (imap sessions survive the master's SIGTERM):
  # a stopped server drops its connections too
  kids=$(pgrep -P "$pid" 2>/dev/null || true)
  kill -TERM "$pid" 2>/dev/null || true
  for k in $kids; do kill -TERM "$k" 2>/dev/null || true; done
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$W/pid"; exit 0; }
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$W/pid"
  ;;
esac
