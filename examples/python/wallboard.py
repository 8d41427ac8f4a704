#!/usr/bin/python3
"""Wallboard: a live line per user with calls offered, held, ended and the
last caller, from tspsd's event stream (admin or attendant identity).

    examples/python/wallboard.py --ca data/tls/ca.pem --cert data/tls/admin.pem \\
        --key data/tls/admin.key          # or TSPS_TOKEN=... in the environment
"""
import argparse
import collections
import os

from tsps import control

p = argparse.ArgumentParser()
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--port", type=int, default=7443)
p.add_argument("--ca", required=True)
p.add_argument("--cert")
p.add_argument("--key")
p.add_argument("--max-events", type=int, default=0, help="stop after N (0 = never)")
a = p.parse_args()

board = collections.defaultdict(lambda: {"offered": 0, "held": 0, "ended": 0, "last": ""})
with control.connect(a.host, a.port, ca=a.ca, cert=a.cert, key=a.key,
                     token=os.environ.get("TSPS_TOKEN")) as c:
    events = c.watch()                    # subscribed from here on
    print("wallboard for %s (%s)" % (c.identity, c.role), flush=True)
    for n, ev in enumerate(events, start=1):
        row = board[ev.user]
        if ev.kind == "call.offered":
            row["offered"] += 1
            row["held"] += ev.outcome == "pending"
            row["last"] = ev.decision.caller_name or ev.decision.caller or "withheld"
        elif ev.kind == "call.ended":
            row["ended"] += 1
        for user, r in sorted(board.items()):
            print("%-12s offered %3d  held %3d  ended %3d  last %s"
                  % (user, r["offered"], r["held"], r["ended"], r["last"]), flush=True)
        if n == a.max_events:
            break
