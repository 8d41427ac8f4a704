#!/usr/bin/env bash
# Apache httpd (mod_dav + mod_dav_fs) for the docs-dav tests: a throwaway
# WebDAV server on a free loopback port serving DIR/docs at /docs/ with
# Basic auth, one user alice:secret (htpasswd). Runs as `apache2 -X` (one
# process, in the foreground of its own background job), never as the
# system daemon. Files may be written into DIR/docs at any time. A second
# port speaks HTTPS with a certificate for 127.0.0.1 signed by a test CA
# (DIR/ca.pem).
#   apache_dav.sh start DIR  - config, start, wait until it answers;
#                              prints "HTTP_PORT HTTPS_PORT"
#   apache_dav.sh stop DIR   - SIGTERM by PID, wait (bounded), SIGKILL
# Exit 77 when apache2 is not installed (the caller skips loudly).
set -euo pipefail
cmd=${1:?start|stop}
W=${2:?dir}
PY=/usr/bin/python3
HTTPD=/usr/sbin/apache2
MODS=/usr/lib/apache2/modules

free_port() {
  $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

case "$cmd" in
start)
  [ -x $HTTPD ] || { echo "apache2 not installed" >&2; exit 77; }
  command -v htpasswd >/dev/null || { echo "htpasswd not installed (apache2-utils)" >&2; exit 77; }
  chmod 755 "$W"
  mkdir -p "$W/docs" "$W/run" "$W/lock"
  htpasswd -bc "$W/htpasswd" alice secret 2>/dev/null
  if [ "$(id -u)" = 0 ]; then
    user="User nobody
Group nogroup"
    chown nobody:nogroup "$W/lock" "$W/run"
  else
    user=""
  fi
  chmod -R a+rX "$W/docs"
  chmod 644 "$W/htpasswd"
  port=$(free_port)
  sport=$(free_port)
  # a test CA and a server certificate for 127.0.0.1 signed by it
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=tsps test CA" \
    -keyout "$W/ca.key" -out "$W/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$W/key.pem" -out "$W/srv.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$W/san.ext"
  openssl x509 -req -in "$W/srv.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" \
    -CAcreateserial -days 2 -extfile "$W/san.ext" -out "$W/cert.pem" 2>/dev/null
  cat >"$W/httpd.conf" <<CONF
ServerRoot "$W"
ServerName 127.0.0.1
Listen 127.0.0.1:$port
PidFile "$W/run/httpd.pid"
DefaultRuntimeDir "$W/run"
ErrorLog "$W/error.log"
LogLevel warn
$user
LoadModule mpm_event_module $MODS/mod_mpm_event.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule authn_core_module $MODS/mod_authn_core.so
LoadModule authn_file_module $MODS/mod_authn_file.so
LoadModule authz_user_module $MODS/mod_authz_user.so
LoadModule auth_basic_module $MODS/mod_auth_basic.so
LoadModule dav_module $MODS/mod_dav.so
LoadModule dav_fs_module $MODS/mod_dav_fs.so
LoadModule alias_module $MODS/mod_alias.so
LoadModule ssl_module $MODS/mod_ssl.so
Listen 127.0.0.1:$sport
<VirtualHost 127.0.0.1:$sport>
  SSLEngine on
  SSLCertificateFile "$W/cert.pem"
  SSLCertificateKeyFile "$W/key.pem"
</VirtualHost>
DavLockDB "$W/lock/davlock"
Timeout 30
Alias /docs "$W/docs"
<Directory "$W/docs">
  Dav On
  AuthType Basic
  AuthName "docs"
  AuthUserFile "$W/htpasswd"
  Require valid-user
</Directory>
CONF
  # setsid: a job of its own, stopped by PID alone
  setsid $HTTPD -X -f "$W/httpd.conf" </dev/null >"$W/stdout.log" 2>&1 &
  echo $! >"$W/apache.pid"
  for _ in $(seq 1 300); do
    if $PY -c "import socket,sys; s=socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null; then
      echo "$port $sport"
      exit 0
    fi
    kill -0 "$(cat "$W/apache.pid")" 2>/dev/null || break
    sleep 0.1
  done
  echo "apache2 did not start:" >&2
  cat "$W/error.log" "$W/stdout.log" >&2 || true
  exit 1
  ;;
stop)
  [ -f "$W/apache.pid" ] || exit 0
  pid=$(cat "$W/apache.pid")
  kill -TERM "$pid" 2>/dev/null || exit 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || exit 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac
