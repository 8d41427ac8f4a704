#!/usr/bin/python3
"""CRM integration: as a user's attendant, watch their calls held for a
decision ("ask") and act on callers the CRM knows.

    TSPS_TOKEN=tsps_... examples/python/crm_integration.py --ca data/tls/ca.pem \\
        --user demo --crm customers.csv       # number,name,action
"""
import argparse
import csv
import os

from tsps import control

p = argparse.ArgumentParser()
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--port", type=int, default=7443)
p.add_argument("--ca", required=True)
p.add_argument("--user", required=True)
p.add_argument("--crm", required=True)
p.add_argument("--max-calls", type=int, default=0, help="stop after N (0 = never)")
a = p.parse_args()

crm = {row["number"]: row for row in csv.DictReader(open(a.crm))}
with control.connect(a.host, a.port, ca=a.ca, token=os.environ["TSPS_TOKEN"]) as c:
    events = c.watch(a.user)
    print("watching %s's calls as %s" % (a.user, c.identity), flush=True)
    handled = 0
    for ev in events:
        if ev.kind != "call.offered" or ev.outcome != "pending":
            continue
        row = crm.get(ev.decision.caller)
        if row is None:
            continue                       # unknown to the CRM: leave it
        d = c.call_act(ev.call_id, row["action"])
        print("%s (%s): %s" % (row["name"], ev.decision.caller, d.method), flush=True)
        handled += 1
        if handled == a.max_calls:
            break
