#!/usr/bin/env bash
# README's run command: build tspsd, start it on the embedded default (a
# data folder it creates: store, TLS material, admin token printed once,
# demo user, vcard-dir source on examples/data) with the web UI on
# loopback (HTTPS, the self-signed certificate), show a routed call with
# its decision trace, print the web UI's URL and a one-time login link for
# the demo user, then keep tspsd in the foreground until Ctrl-C.
#
#   scripts/run.sh           run until Ctrl-C
#   scripts/run.sh --once    exit after showing the call (CI and tests)
#
# Environment: TSPS_DATA (default ./data), TSPS_PORT (control, default 7443),
# TSPS_WEB_PORT (web UI, default 8443; 0 any free port, -1 off),
# TSPS_SIP_PORT (default 5060; 0 no SIP front), TSPS_METRICS_PORT (default
# 9464; -1 none), BUILD_DIR (default build/run), JOBS, TSPS_BIN_DIR (a
# folder holding tspsd and tspsctl already built: no install, no build).
set -euo pipefail
cd "$(dirname "$0")/.."
once=0
[ "${1:-}" = "--once" ] && once=1
data=${TSPS_DATA:-data}
port=${TSPS_PORT:-7443}
web_port=${TSPS_WEB_PORT:-8443}
bdir=${BUILD_DIR:-build/run}

if [ -n "${TSPS_BIN_DIR:-}" ]; then
  bin=$TSPS_BIN_DIR
else
  scripts/deps.sh build
  echo "== build ($bdir)"
  cmake -S . -B "$bdir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTSPS_BUILD_TESTS=OFF \
    -DTSPS_BUILD_BENCHMARKS=OFF -DTSPS_BUILD_EXAMPLES=OFF >/dev/null
  cmake --build "$bdir" -j"${JOBS:-2}" --target tspsd tspsctl >/dev/null
  bin=$bdir/tspsd
fi

tspsd="$bin/tspsd"
# tspsctl is built in its own folder (tspsctl/ beside tspsd/ in a build tree)
ctlbin="$bin/tspsctl"
[ -x "$ctlbin" ] || [ ! -x "$bin/../tspsctl/tspsctl" ] || ctlbin="$bin/../tspsctl/tspsctl"
ctl() { "$ctlbin" --data "$data" --port "$port" "$@"; }

echo "== tspsd on the embedded default (data: $data, control port: $port, web UI port: $web_port)"
set -- --data "$data" --port "$port" --web-port "$web_port"
[ -n "${TSPS_SIP_PORT:-}" ] && set -- "$@" --sip-port "$TSPS_SIP_PORT"
[ -n "${TSPS_METRICS_PORT:-}" ] && set -- "$@" --metrics-port "$TSPS_METRICS_PORT"
rm -f "$data/web.url" # written afresh once the web UI listens
"$tspsd" "$@" &
pid=$!
stop() {
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}
trap stop EXIT
trap 'exit 130' INT TERM

up=0
for _ in $(seq 1 100); do            # the control socket, up to 10 s
  kill -0 "$pid" 2>/dev/null || { echo "run: tspsd exited" >&2; exit 1; }
  if ctl whoami >/dev/null 2>&1; then up=1; break; fi
  sleep 0.1
done
[ "$up" = 1 ] || { echo "run: tspsd did not come up" >&2; exit 1; }
for _ in $(seq 1 100); do            # the demo source's first sync
  ctl source list 2>/dev/null | grep -qE '^demo +[^ ]+ +(ok|failed|stalled) ' && break
  sleep 0.1
done

echo "== sources"
ctl source list
# A caller from the demo contacts that carries the VIP code, if any.
from=$(ctl contact list demo 2>/dev/null |
  awk '/ VIP / { for (i = 1; i <= NF; i++) if ($i ~ /^\+[0-9]+$/) { print $i; exit } }')
from=${from:-+12125550123}
echo
echo "== tspsctl route --from $from --to +12125550100"
ctl route --from "$from" --to +12125550100
echo
echo "== tspsctl route --from +13125550199 --to +12125550100   (unknown caller)"
ctl route --from +13125550199 --to +12125550100


if [ "$web_port" != -1 ]; then
  for _ in $(seq 1 100); do          # the web UI's URL, up to 10 s
    [ -s "$data/web.url" ] && break
    sleep 0.1
  done
  if [ -s "$data/web.url" ]; then
    echo
    echo "== web UI (a self-signed certificate: the browser asks once)"
    echo "web UI: $(cat "$data/web.url")"
    if link=$(ctl user login-link demo 2>&1); then
      echo "login link (for the demo user; works once, within 15 min): $link"
      echo "another one: $ctlbin --data $data --port $port user login-link demo"
    else
      echo "run: no login link: $link" >&2
    fi
  else
    echo "run: the web UI did not come up (see the log above)" >&2
  fi
fi

if [ "$once" = 1 ]; then
  exit 0
fi
echo
echo "tspsd is running (pid $pid). Try: $ctlbin --data $data --port $port --help"
echo "Ctrl-C stops it."
wait "$pid"
