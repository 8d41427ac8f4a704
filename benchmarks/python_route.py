#!/usr/bin/python3
"""Routes per second through the Python binding vs C, on the same data.

    /usr/bin/python3 benchmarks/python_route.py [--build-dir build/ci]
        [--users 1000] [--contacts 200000] [--routes 200000]

1. runs the C benchmark (route_bench) with --dir in a temp folder: it
   builds the store and prints its routes_per_s for a mix of 80% known and
   20% unknown callers; the store stays;
2. opens that store through the binding (tsps.Engine, the same open flags)
   and routes the very same calls: the call mix is route_bench's generator
   (same xorshift seed, number formats and national dial forms) ported
   line by line, checked by comparing the share of known callers;
3. prints name=value lines: py_routes_per_s (Engine.route(), returning a
   Decision), py_routes_read_per_s (also reading the method kind, code and
   caller kind of each decision, as a script would), c_routes_per_s and
   py_overhead_ratio = C's routes_per_s / py_routes_per_s (the cost of one
   route through Python in units of the C cost; target <= 5).

Run with /usr/bin/python3 (Debian's python3-cffi). The package comes from
<build-dir>/bindings/python/lib (target tsps_python) unless it is installed.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

MASK = (1 << 64) - 1
REGIONS = [("DE", "49"), ("US", "1"), ("GB", "44"), ("FR", "33")]


class XorShift:
    def __init__(self):
        self.s = 0x9E3779B97F4A7C15

    def next(self):
        s = self.s
        s ^= (s << 13) & MASK
        s ^= s >> 7
        s ^= (s << 17) & MASK
        self.s = s
        return s


def make_number(r, x):
    """route_bench's make_number(): a realistic E.164 number in region r."""
    if r == 0:
        if x % 2:
            return "+49%s%07d" % (("30", "40", "89", "221")[x % 4],
                                  1000000 + x % 8999999)
        return "+491%d%d%07d" % (5 + (x % 3), x % 10, 1000000 + x % 8999999)
    if r == 1:
        return "+1%03d%03d%04d" % (200 + x % 700, 200 + (x // 700) % 700,
                                   x % 10000)
    if r == 2:
        return "+44%s%08d" % ("20" if x % 2 else "7", 10000000 + x % 89999999)
    return "+33%d%08d" % (1 + x % 9, x % 100000000)


def dial_form(e164, r, x):
    """route_bench's dial_form(): national forms for a third of calls."""
    cc = len(REGIONS[r][1])
    if x % 3 == 0 and r != 1:
        return "0%s %s" % (e164[1 + cc:4 + cc], e164[4 + cc:])
    if x % 3 == 0:
        return "(%s) %s-%s" % (e164[2:5], e164[5:8], e164[8:])
    return e164


def call_mix(nusers, ncontacts, nroutes):
    rng = XorShift()
    per = ncontacts // nusers
    dids = [make_number(u % 4, 7000000 + u) for u in range(nusers)]
    calls = []
    for _ in range(nroutes):
        x = rng.next()
        u = x % nusers
        if x % 10 < 8:
            c = (x >> 20) % per
            r = (u + c) % 4
            e164 = make_number(r, u * per + c)
        else:
            r = ((x >> 40) & 0xFFFFFFFF) % 4
            e164 = make_number(r, 900000000 + (x >> 8) % 100000000)
        caller = dial_form(e164, r, x >> 50) if r == u % 4 else e164
        calls.append((dids[u], caller))
    return calls


def main():
    p = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    p.add_argument("--build-dir", default=os.path.join(here, "..", "build",
                                                       "ci"))
    p.add_argument("--route-bench")
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--contacts", type=int, default=200000)
    p.add_argument("--routes", type=int, default=200000)
    a = p.parse_args()
    lib = os.path.join(a.build_dir, "bindings", "python", "lib")
    if os.path.isdir(lib):
        sys.path.insert(0, lib)
    import tsps

    rb = a.route_bench or os.path.join(a.build_dir, "benchmarks",
                                       "route_bench", "route_bench")
    tmp = tempfile.mkdtemp(prefix="python_route-")
    try:
        store = os.path.join(tmp, "store")
        out = subprocess.run([rb, "--users", str(a.users), "--contacts",
                              str(a.contacts), "--routes", str(a.routes),
                              "--dir", store], check=True, text=True,
                             capture_output=True).stdout
        c = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
        calls = call_mix(a.users, a.contacts, a.routes)
        with tsps.Engine(store, nosync=True) as eng:
            route = eng.route
            for called, caller in calls:          # warm-up, as route_bench
                route(called, caller)
            t0 = time.perf_counter()
            for called, caller in calls:
                route(called, caller)
            t1 = time.perf_counter()
            known = 0
            t2 = time.perf_counter()
            for called, caller in calls:
                d = route(called, caller)
                known += d.caller_kind == "known"
                d.code
                d.method.kind
            t3 = time.perf_counter()
        py = a.routes / (t1 - t0)
        c_rps = float(c["routes_per_s"])
        known_pct = 100.0 * known / a.routes
        print("routes=%d" % a.routes)
        print("c_routes_per_s=%.0f" % c_rps)
        print("c_route_ns_p50=%s" % c.get("route_ns_p50", "?"))
        print("c_known_callers_pct=%s" % c.get("known_callers_pct", "?"))
        print("py_known_callers_pct=%.1f" % known_pct)
        print("py_routes_per_s=%.0f" % py)
        print("py_route_ns_mean=%.0f" % (1e9 / py))
        print("py_routes_read_per_s=%.0f" % (a.routes / (t3 - t2)))
        print("py_overhead_ratio=%.2f" % (c_rps / py))
        if abs(known_pct - float(c.get("known_callers_pct", known_pct))) > 0.1:
            print("warning: the call mix differs from route_bench's",
                  file=sys.stderr)
            return 1
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
