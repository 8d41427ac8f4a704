#!/usr/bin/env bash
# tspsd under valgrind: start on the demo data with free loopback ports, wait
# for the first sync, route a call over the control socket, SIGTERM, and
# require a clean exit with no leaks and no memory errors.
# Usage: valgrind_shutdown.sh TSPSD TSPSCTL
set -euo pipefail
tspsd=$1 tspsctl=$2
command -v valgrind >/dev/null || { echo "SKIP: valgrind not installed"; exit 77; }
work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
cat > "$work/t.conf" <<CONF
[tspsd]
data_dir = $work/data
demo = true
[control]
port = $(port)
[metrics]
port = $(port)
[sip]
udp_port = $(port)
tcp_port = $(port)
[web]
port = $(port)
[admin]
identities = admin
CONF
valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect \
  --error-exitcode=99 "$tspsd" -c "$work/t.conf" >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do                    # up to 60 s under valgrind
  grep -q 'msg="sync done"' "$work/log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/log"; echo "FAIL: tspsd died"; exit 1; }
  sleep 0.1
done
grep -q 'msg="sync done"' "$work/log" || { tail -30 "$work/log"; echo "FAIL: no sync"; exit 1; }
ctlport=$(sed -n 's/^port = //p' "$work/t.conf" | head -1)
"$tspsctl" --data "$work/data" --port "$ctlport" route --from +12125550101 \
  --to +12125550100 >"$work/route" 2>&1 || { cat "$work/route"; echo "FAIL: route"; exit 1; }
grep -q VIP "$work/route" || { cat "$work/route"; echo "FAIL: route output"; exit 1; }
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
if [ "$rc" -ne 0 ] || ! grep -q "ERROR SUMMARY: 0 errors" "$work/log"; then
  tail -60 "$work/log"
  echo "FAIL: tspsd exit $rc under valgrind"
  exit 1
fi
grep -E "definitely lost|ERROR SUMMARY" "$work/log"
echo "tspsd shutdown under valgrind: clean"
