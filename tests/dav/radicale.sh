#!/usr/bin/env bash
# Radicale for the DAV tests (dav_server.sh radicale): a throwaway server
# on a free loopback port.
#   radicale.sh start DIR [PORT]  - prints the port; DIR/pid, DIR/port, DIR/log
#   radicale.sh stop DIR          - SIGTERM by PID, wait (bounded)
# Users (plain htpasswd): alice:secret, bob:hunter2; DAV_NOAUTH=1 starts it
# without authentication. Exit 77 when Radicale is not installed.
exec "$(dirname "$0")/dav_server.sh" radicale "$@"
