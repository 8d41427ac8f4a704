#!/usr/bin/python3
"""tspsd nodes behind Kamailio's dispatcher, sharing configuration through
etcd (docs/cluster.md). Starts a real etcd, N real tspsd nodes (SIP on
free 127.0.0.1 ports, [cluster] enabled), Kamailio with
contrib/kamailio/kamailio.cfg, and drives calls with sipp.

  cluster_sip.py --test ...   ctest cluster_sip: users provisioned through
                              node 1 only, calls through Kamailio to both
                              nodes, a user moved to shard s2 under load
                              and back by two movers at once (one must
                              exit 3), one node killed mid-load; fails when a
                              call failed (beyond the retransmissions sipp
                              makes while Kamailio fails over)
  cluster_sip.py --bench ...  benchmarks/cluster: prints
                              cluster_cps_zero_fail, failover_failed_calls,
                              config_propagation_ms_p99, etcd_down_routing_ok
                              and the write figures below
  cluster_sip.py --writes ... the write figures only: configuration writes
                              through one node's control port (ctl_bench
                              --writes), published to etcd by its
                              publisher and applied by the other node:
                              node_write_requests_per_s,
                              etcd_writes_per_s (the node's publisher),
                              apply_events_per_s (the other node), and
                              etcd_direct_puts_per_s (one client, one after
                              another, straight to etcd's JSON gateway)

Exit status 0 = passed.
"""
import argparse
import base64
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ARGS = None
WORK = None
TAKEN = set()
FAILOVER = {}
MOVE = {}
RUN = [0, None]  # runs so far, the current run's folder
LEASE_S = 2  # registry lease: a killed node shows lease-expired this soon
GRACE_S = 3  # handover grace: a moved user's keys stay on the old shard
SETS = "s1=1,s2=2"  # shard -> Kamailio dispatcher set


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1, not handed out before
    in this run."""
    for _ in range(500):
        p = random.randint(20000, 60000)
        if p in TAKEN:
            continue
        try:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                s = socket.socket(socket.AF_INET, kind)
                s.bind(("127.0.0.1", p))
                s.close()
        except OSError:
            continue
        TAKEN.add(p)
        return p
    raise RuntimeError("no free port")


def wait_for(cond, timeout=20.0, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


class Etcd:
    def __init__(self):
        self.dir = os.path.join(RUN[1], "etcd")
        self.port, self.peer = free_port(), free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = None
        self.start()

    def start(self):
        peer = "http://127.0.0.1:%d" % self.peer
        log = open(os.path.join(RUN[1], "etcd.log"), "a")
        self.proc = subprocess.Popen(
            [ARGS.etcd, "--name", "t", "--data-dir", self.dir,
             "--listen-client-urls", self.url, "--advertise-client-urls",
             self.url, "--listen-peer-urls", peer,
             "--initial-advertise-peer-urls", peer, "--initial-cluster",
             "t=" + peer, "--log-level", "warn"],
            stdout=log, stderr=log)
        if not wait_for(self.up, 20):
            raise RuntimeError("etcd did not start")

    def up(self):
        try:
            out = subprocess.run(
                ["curl", "-s", "-m", "1", "-X", "POST", self.url +
                 "/v3/kv/range", "-d", '{"key":"AA=="}'],
                capture_output=True, text=True).stdout
            return '"header"' in out
        except OSError:
            return False

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Node:
    def __init__(self, name, etcd_url, shard="s1", sip_extra=""):
        self.name = name
        self.shard = shard
        self.dir = os.path.join(RUN[1], name)
        self.data = os.path.join(self.dir, "data")
        os.makedirs(self.dir)
        self.sip_port = free_port()
        self.metrics_port = free_port()
        self.conf = os.path.join(self.dir, "tspsd.conf")
        with open(self.conf, "w") as f:
            f.write("[tspsd]\ndata_dir = %s\nlog_level = info\n"
                    "[control]\nport = 0\n[metrics]\nport = %d\n"
                    "[sip]\nenabled = true\nlisten = 127.0.0.1\n"
                    "udp_port = %d\ntcp_port = 0\n%s"
                    "[web]\nlisten = 127.0.0.1\nport = 0\n"
                    "[cluster]\nenabled = true\netcd = %s\nnode = %s\n"
                    "prefix = /tsps-sip\nshard = %s\ndefault_shard = s1\n"
                    "lease_s = %d\nhandover_grace_s = %d\n"
                    "[admin]\nidentities = admin\n"
                    % (self.data, self.metrics_port, self.sip_port, sip_extra,
                       etcd_url, name, shard, LEASE_S, GRACE_S))
        self.logf = os.path.join(self.dir, "tspsd.log")
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen([ARGS.tspsd, "-c", self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self.logf, "a"))
        if not wait_for(lambda: os.path.exists(
                os.path.join(self.data, "client.conf")) and
                "SIP front listening" in self.log(), 20):
            raise RuntimeError("tspsd %s did not start: %s"
                               % (self.name, self.log()[-1500:]))

    def log(self):
        try:
            with open(self.logf) as f:
                return f.read()
        except OSError:
            return ""

    def ctl(self, *args, check=True):
        r = subprocess.run([ARGS.tspsctl, "--data", self.data] + list(args),
                           capture_output=True, text=True, timeout=20)
        if check and r.returncode != 0:
            raise RuntimeError("tspsctl %s on %s: %s%s"
                               % (" ".join(args), self.name, r.stdout,
                                  r.stderr))
        return r

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def metric(self, name):
        """tspsd_cluster_<name> of this node, -1 when unreadable."""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics"
                                        % self.metrics_port, timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return -1
        m = re.search(r"^tspsd_cluster_%s\{[^}]*\} (\d+)" % name, text, re.M)
        return int(m.group(1)) if m else -1

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Kamailio:
    def __init__(self, nodes, map_from=None, follow=False):
        """Kamailio with one dispatcher set per shard (s1 = 1, s2 = 2) and
        its number -> set table written by `tspsctl cluster kamailio-map`
        on map_from (None: an empty table, every call to set 1); follow:
        as the operator's proxy, it follows tspsd's 3xx (FOLLOW_3XX)."""
        self.port, self.rpc_port = free_port(), free_port()
        self.rpc = "http://127.0.0.1:%d/RPC" % self.rpc_port
        self.dir = os.path.join(RUN[1], "kamailio")
        os.makedirs(self.dir)
        self.list = os.path.join(self.dir, "nodes.list")
        with open(self.list, "w") as f:
            for n in nodes:
                f.write("%s sip:127.0.0.1:%d 0 0\n"
                        % (n.shard[1:], n.sip_port))
        mapf = os.path.join(self.dir, "tsps_map")
        if map_from is not None:
            map_from.ctl("cluster", "kamailio-map", "--sets", SETS, "--out",
                         mapf)
        else:
            with open(mapf, "w") as f:
                f.write("key_name(str) key_type(int) value_type(int) "
                        "key_value(str)\n")
        self.logf = os.path.join(self.dir, "kamailio.log")
        self.proc = subprocess.Popen(
            [ARGS.kamailio, "-f", ARGS.kamailio_cfg, "-DD", "-E",
             "-m", "256",  # shared memory (MB): the default 64 fills at 1000/s
             "-Y", self.dir, "-w", self.dir,
             "-P", os.path.join(self.dir, "kamailio.pid"),
             "-A", "LISTEN=udp:127.0.0.1:%d" % self.port,
             "-A", 'DS_LIST="%s"' % self.list, "-A", "CHILDREN=2",
             "-A", 'MAP_DB="text://%s"' % self.dir,
             "-A", "RPC_LISTEN=tcp:127.0.0.1:%d" % self.rpc_port]
            + (["-A", "FOLLOW_3XX"] if follow else []),
            stdout=subprocess.DEVNULL, stderr=open(self.logf, "w"),
            start_new_session=True)
        if not wait_for(lambda: self.proc.poll() is not None or
                        self.call("core.version") is not None, 10, 0.1) \
                or self.proc.poll() is not None:
            raise RuntimeError("kamailio did not start: %s"
                               % open(self.logf).read()[-2000:])

    def call(self, method, *params):
        """One JSON-RPC call: its result, None when it failed."""
        body = json.dumps({"jsonrpc": "2.0", "method": method,
                           "params": list(params), "id": 1}).encode()
        try:
            req = urllib.request.Request(self.rpc, data=body, method="POST")
            with urllib.request.urlopen(req, timeout=2) as r:
                return json.loads(r.read()).get("result")
        except (OSError, ValueError):
            return None

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def number(i):
    return "+1212555%04d" % i


def provision(node, users, first=0):
    """Users u<first>..u<users-1> with one number each and a forward rule
    for unknown callers, through one node only (the other nodes of its
    shard learn them from etcd)."""
    for i in range(first, users):
        node.ctl("user", "add", "u%d" % i, "--region", "US", "--tz",
                 "America/New_York", "--hours", "mon-sun 00:00-23:59",
                 "--number", number(i), "--voicemail",
                 "sip:vm%d@127.0.0.1" % i)
        node.ctl("code", "set", "u%d" % i, "UNKNOWN", "forward",
                 "+1999555%04d" % i)


def routes_to(node, i, want):
    r = node.ctl("route", "--from", "+13125550013", "--to", number(i),
                 check=False)
    return r.returncode == 0 and want in r.stdout


def sipp(kam, users, rate, calls, tag, scenario="invite_3xx.xml"):
    """Run sipp against Kamailio; (successful, failed, retransmissions)."""
    csv = os.path.join(WORK, "numbers.csv")
    with open(csv, "w") as f:
        f.write("SEQUENTIAL\n")
        for i in range(users):
            f.write("%s;\n" % number(i))
    stat = os.path.join(WORK, "sipp_%s.csv" % tag)
    cmd = [ARGS.sipp, "127.0.0.1:%d" % kam.port, "-sf",
           os.path.join(ARGS.scenarios, scenario), "-inf", csv,
           "-i", "127.0.0.1", "-p", str(free_port()), "-r", str(rate),
           "-m", str(calls), "-l", str(max(100, rate * 4)), "-bg" if False
           else "-nostdin", "-trace_stat", "-stf", stat, "-fd", "1",
           "-trace_err", "-error_file",
           os.path.join(WORK, "sipp_%s_err.log" % tag),
           "-timeout", "120", "-timeout_error", "-max_recv_loops", "1000"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    return p, stat


def sipp_result(p, stat):
    p.wait(180)
    with open(stat) as f:
        rows = [r.rstrip("\n").split(";") for r in f if r.strip()]
    head, last = rows[0], rows[-1]
    col = {name: i for i, name in enumerate(head)}
    ok = int(last[col["SuccessfulCall(C)"]])
    failed = int(last[col["FailedCall(C)"]])
    retrans = int(last[col["Retransmissions(C)"]])
    return ok, failed, retrans


def cluster(nodes_n=2, sip_extra=""):
    RUN[0] += 1
    RUN[1] = os.path.join(WORK, "run%d" % RUN[0])
    os.makedirs(RUN[1])
    etcd = Etcd()
    nodes = [Node("n%d" % (i + 1), etcd.url, sip_extra=sip_extra)
             for i in range(nodes_n)]
    return etcd, nodes


def etcd_put(etcd, key, value):
    """A key of the cluster straight into etcd (its JSON gateway)."""
    body = json.dumps({"key": base64.b64encode(
        ("/tsps-sip/" + key).encode()).decode(), "value": base64.b64encode(
            value.encode()).decode()}).encode()
    req = urllib.request.Request(etcd.url + "/v3/kv/put", data=body,
                                 method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        r.read()


def etcd_keys(etcd, key, prefix=False):
    """The cluster's keys at key (every key under it with prefix):
    {key without the cluster prefix: (value, version)}."""
    k = ("/tsps-sip/" + key).encode()
    q = {"key": base64.b64encode(k).decode()}
    if prefix:
        q["range_end"] = base64.b64encode(k[:-1] + bytes([k[-1] + 1])).decode()
    req = urllib.request.Request(etcd.url + "/v3/kv/range",
                                 data=json.dumps(q).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        kvs = json.loads(r.read()).get("kvs", [])
    return {base64.b64decode(kv["key"]).decode()[len("/tsps-sip/"):]:
            (base64.b64decode(kv.get("value", "")).decode(),
             int(kv.get("version", 0))) for kv in kvs}


def etcd_delete(etcd, key):
    body = json.dumps({"key": base64.b64encode(
        ("/tsps-sip/" + key).encode()).decode()}).encode()
    req = urllib.request.Request(etcd.url + "/v3/kv/deleterange", data=body,
                                 method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        r.read()


def offered_user(node, user):
    """Calls offered on node for user."""
    want = " user=%s " % user
    return sum(1 for line in node.log().splitlines()
               if 'msg="call offered"' in line and want in line)


def wait_provisioned(nodes, users):
    last = users - 1
    for n in nodes:
        if not wait_for(lambda: routes_to(n, last, "forward"), 20, 0.1):
            raise RuntimeError("node %s never routed u%d (replication)"
                               % (n.name, last))


def registry(node):
    """`tspsctl cluster status` on node: {name: {state, lag, service, ...}}."""
    r = node.ctl("cluster", "status", check=False)
    rows = {}
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) == 8 and re.match(r"^n\d+$", f[0]):
            rows[f[0]] = {"shard": f[1], "state": f[3], "lag": f[5],
                          "service": f[6], "held": f[7]}
    return rows


def offered(node):
    return node.log().count('msg="call offered"')


def check_registry(nodes):
    """Every node listed alive, in its shard, not behind, in service."""
    want = {n.name: n.shard for n in nodes}

    def ok():
        rows = registry(nodes[0])
        return set(rows) == set(want) and all(
            r["state"] == "alive" and r["shard"] == want[k] and
            r["lag"] == "0" and r["service"] == "in"
            for k, r in rows.items())
    if not wait_for(ok, 10, 0.2):
        raise RuntimeError("cluster status does not list every node alive "
                           "and current: %s" % registry(nodes[0]))


def drain_run(kam, nodes, rate, users):
    """Calls through Kamailio while n2 is drained: Kamailio's OPTIONS
    probe sees 503 and stops sending n2 new calls; no call fails. Then
    the drain is undone and n2 takes calls again."""
    calls = rate * 8
    n3_base = offered(nodes[2])
    p, stat = sipp(kam, users, rate, calls, "drain")
    time.sleep(1.5)
    before = offered(nodes[1])
    nodes[1].ctl("cluster", "drain")
    time.sleep(3.5)  # one probe interval, one failed probe, and margin
    after_probe = offered(nodes[1])
    rows = registry(nodes[0])
    ok, failed, _ = sipp_result(p, stat)
    at_end = offered(nodes[1])
    to_s2 = sum(1 for k in range(calls) if k % users >= users // 2)
    n3_got = offered(nodes[2]) - n3_base
    print("cluster_sip: drain of n2 under %d calls at %d/s: %d ok, %d failed;"
          " n2 offered %d before, %d once probed, %d at the end; status %s"
          % (calls, rate, ok, failed, before, after_probe, at_end,
             rows.get("n2")))
    print("cluster_sip: shard s2 (n3) was offered %d calls, %d went to "
          "its users' numbers" % (n3_got, to_s2))
    if failed != 0 or ok != calls:
        raise RuntimeError("calls failed during the drain (see %s)" % WORK)
    if n3_got != to_s2:
        raise RuntimeError("shard s2's node n3 was offered %d calls; its "
                           "users had %d" % (n3_got, to_s2))
    if before == 0 or at_end != after_probe:
        raise RuntimeError("n2 took no calls before the drain, or took new "
                           "calls after kamailio probed it draining")
    if rows.get("n2", {}).get("service") != "drained":
        raise RuntimeError("cluster status does not show n2 drained: %s"
                           % rows)
    nodes[1].ctl("cluster", "drain", "--undo")
    if not wait_for(lambda: registry(nodes[0]).get("n2", {}).get(
            "service") == "in", 5 + LEASE_S, 0.2):
        raise RuntimeError("n2 not back in service after drain --undo")
    time.sleep(2.5)  # kamailio's probe marks n2 active again


def check_shards(nodes, users):
    """Each shard's users are in its nodes' stores only, and a write for a
    user of another shard is refused with the user's shard named."""
    s1, s2 = nodes[0], nodes[2]
    for node, i in ((s2, 0), (s1, users - 1)):
        r = node.ctl("route", "--from", "+13125550013", "--to", number(i),
                     check=False)
        if "no user has this number" not in r.stdout:
            raise RuntimeError("%s (shard %s) routes u%d of the other shard:"
                               " %s%s" % (node.name, node.shard, i, r.stdout,
                                          r.stderr))
    r = s1.ctl("code", "set", "u%d" % (users - 1), "VIP", "reject", "busy",
               check=False)
    if r.returncode == 0 or "shard s2" not in r.stderr:
        raise RuntimeError("n1 took a write for a user of shard s2: %s%s"
                           % (r.stdout, r.stderr))
    if s2.metric("other_shard_skipped_total") <= 0:
        raise RuntimeError("n3 counted no skipped event of shard s1")


def move_run(kam, nodes, rate, users):
    """u0 moved from shard s1 (n1, n2) to s2 (n3) under sipp load through
    Kamailio: no call fails, u0's calls after the move reach n3 only, n1
    keeps u0 for the grace period, then drops it."""
    calls = rate * 6
    s1, s2 = nodes[:2], nodes[2]
    p, stat = sipp(kam, users, rate, calls, "move")
    time.sleep(1.5)
    before = offered_user(s2, "u0")
    r = nodes[0].ctl("cluster", "move-user", "u0", "s2", "--sets", SETS,
                     "--kamailio", kam.rpc, check=False)
    time.sleep(0.3)  # calls Kamailio had sent before the flip
    s1_at = sum(offered_user(n, "u0") for n in s1)
    in_grace = routes_to(nodes[0], 0, "forward")
    ok, failed, _ = sipp_result(p, stat)
    s1_end = sum(offered_user(n, "u0") for n in s1)
    s2_got = offered_user(s2, "u0") - before
    m = re.search(r"done after (\d+) ms", r.stdout)
    MOVE["ms"] = int(m.group(1)) if m else -1
    print("cluster_sip: move of u0 to s2 under %d calls at %d/s: %d ok, %d "
          "failed; %s; u0's calls on s1 after it: %d, on n3: %d"
          % (calls, rate, ok, failed, (r.stdout + r.stderr).strip(),
             s1_end - s1_at, s2_got))
    if r.returncode != 0:
        raise RuntimeError("move-user failed")
    if failed != 0 or ok != calls:
        raise RuntimeError("calls failed during the move (see %s)" % WORK)
    if s1_end != s1_at or s2_got == 0:
        raise RuntimeError("u0's calls after the move did not all reach n3")
    if not in_grace:
        raise RuntimeError("n1 dropped u0 before the grace period ended")
    if not routes_to(s2, 0, "forward"):
        raise RuntimeError("n3 does not route u0 after the move")
    if not wait_for(lambda: not routes_to(nodes[0], 0, "forward"),
                    GRACE_S + 5, 0.2):
        raise RuntimeError("n1 still holds u0 after the grace period")


def race_run(etcd, kam, nodes):
    """Two `move-user u0 s1` (u0 is in s2 after move_run) started at once:
    one wins, the other exits 3 naming the other move; u0 ends in s1 (n1
    and n2 route it, n3 drops it after the grace), Kamailio sends u0's
    number to set 1, no moving/ or ready/ key of u0 is left.

    The overlap is made sure of with a stand-in node: a registry key
    node/gate of shard s1 (no process; the nodes skip registry keys), so
    both movers wait for ready/u0/gate too. It is written only once
    moving/u0 has version 2 (both movers have read shard/u0 and put their
    marker: both compare the same revision of shard/u0) and n1 and n2
    have answered both markers (ready/u0/n1 and n2 at version 2; a later
    answer would land after the flip and stay). A ready/u0/gate written
    before the movers started is there all along: a ready/ key older than
    a mover's marker must not count, so both are still waiting then."""
    etcd_put(etcd, "node/gate", json.dumps({"shard": "s1"}))
    etcd_put(etcd, "ready/u0/gate", "s1")  # stale: before the markers

    def answered():
        have = etcd_keys(etcd, "moving/u0")
        have.update(etcd_keys(etcd, "ready/u0/", True))
        return all(have.get(k, ("", 0))[1] >= 2 for k in (
            "moving/u0", "ready/u0/n1", "ready/u0/n2"))
    procs = []
    try:
        for _ in range(2):
            procs.append(subprocess.Popen(
                [ARGS.tspsctl, "--data", nodes[0].data, "cluster",
                 "move-user", "u0", "s1", "--sets", SETS, "--kamailio",
                 kam.rpc, "--timeout", "20"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        if not wait_for(answered, 15):
            raise RuntimeError("the two movers did not both mark u0 moving, "
                               "or n1 and n2 did not answer both: %s %s"
                               % (etcd_keys(etcd, "moving/u0"),
                                  etcd_keys(etcd, "ready/u0/", True)))
        time.sleep(0.2)  # ten of the movers' polls of ready/
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a mover ended before the stand-in node said "
                               "ready (a ready/ key older than its marker "
                               "counted): %s" % [p.poll() for p in procs])
        etcd_put(etcd, "ready/u0/gate", "s1")
        outs = [p.communicate(timeout=25) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        etcd_delete(etcd, "node/gate")
    rcs = sorted(p.returncode for p in procs)
    text = " | ".join((o + e).strip() for o, e in outs)
    print("cluster_sip: two movers of u0 to s1 at once: exit %s: %s"
          % (rcs, text))
    if rcs != [0, 3]:
        raise RuntimeError("two movers at once: exit statuses %s, not one 0 "
                           "and one 3" % rcs)
    loser = outs[[p.returncode for p in procs].index(3)][1]
    if "another move of u0 won" not in loser:
        raise RuntimeError("the losing mover does not say another move won: "
                           "%s" % loser)
    shard = etcd_keys(etcd, "shard/u0").get("shard/u0", ("", 0))[0]
    left = etcd_keys(etcd, "moving/u0") or etcd_keys(etcd, "ready/u0/", True)
    if shard != "s1" or left:
        raise RuntimeError("after the race shard/u0 = %r, left behind: %s"
                           % (shard, left))
    entry = kam.call("htable.get", "tsps_map", number(0))
    if (entry or {}).get("item", {}).get("value") != 1:
        raise RuntimeError("kamailio does not send u0's number to set 1: %s"
                           % entry)
    for n in nodes[:2]:
        if not wait_for(lambda: routes_to(n, 0, "forward"), 5, 0.1):
            raise RuntimeError("%s does not route u0 after the race"
                               % n.name)
    if not wait_for(lambda: not routes_to(nodes[2], 0, "forward"),
                    GRACE_S + 5, 0.2):
        raise RuntimeError("n3 still holds u0 after the grace period")


def failover_run(rate, calls, users=20):
    """Two shards: s1 = n1 + n2, s2 = n3 (the upper half of the users).
    Calls through Kamailio: first with n2 drained and put back, then u0
    moved to s2 (and back to s1 by two movers at once, without calls),
    then n2 killed after a third of the calls.
    (ok, failed, retrans)."""
    etcd, nodes = cluster(2)
    kam = None
    half = users // 2
    try:
        for i in range(half, users):
            etcd_put(etcd, "shard/u%d" % i, "s2")
        provision(nodes[0], half)
        wait_provisioned(nodes, half)
        # A node started now reads the whole state at once; it and the
        # nodes that watched every change must all show as current.
        late = Node("n3", etcd.url, "s2")
        nodes.append(late)
        provision(late, users, half)
        wait_provisioned([late], users)
        check_shards(nodes, users)
        check_registry(nodes)
        kam = Kamailio(nodes, nodes[0])
        time.sleep(1.5)  # first OPTIONS probes
        drain_run(kam, nodes, rate, users)
        move_run(kam, nodes, rate, users)
        race_run(etcd, kam, nodes)
        base = [offered(n) for n in nodes]
        p, stat = sipp(kam, users, rate, calls, "failover")
        time.sleep(calls / rate / 3.0)
        nodes[1].kill()
        n2_calls = offered(nodes[1]) - base[1]
        ok, failed, retrans = sipp_result(p, stat)
        FAILOVER["n2_calls"] = n2_calls
        FAILOVER["n1_calls"] = offered(nodes[0]) - base[0]
        if not wait_for(lambda: registry(nodes[0]).get("n2", {}).get(
                "state") == "lease-expired", LEASE_S + 5, 0.2):
            raise RuntimeError("cluster status still lists the killed n2 "
                               "alive: %s" % registry(nodes[0]))
        with open(kam.logf) as f:
            FAILOVER["failovers"] = f.read().count(": next node")
        return ok, failed, retrans
    finally:
        if kam:
            kam.stop()
        for n in nodes:
            n.stop()
        etcd.kill()


def start_uas(scenario, port, calls, tag):
    """A sipp UAS on 127.0.0.1:port: (process, its statistics file)."""
    stat = os.path.join(WORK, "sipp_%s.csv" % tag)
    p = subprocess.Popen(
        [ARGS.sipp, "-sf", os.path.join(ARGS.scenarios, scenario),
         "-i", "127.0.0.1", "-p", str(port), "-m", str(calls),
         "-nostdin", "-trace_stat", "-stf", stat, "-fd", "1",
         "-trace_err", "-error_file",
         os.path.join(WORK, "sipp_%s_err.log" % tag), "-timeout", "60",
         "-timeout_error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return p, stat


def sip_register(port, aor, label, contact_port):
    """REGISTER (no digest: the node has auth_register off) of a device
    labelled `label` at 127.0.0.1:contact_port for aor: the status."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    lp = s.getsockname()[1]
    s.sendto(("REGISTER sip:127.0.0.1:%d SIP/2.0\r\n"
              "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-r%d;rport\r\n"
              "From: <sip:%s@127.0.0.1>;tag=r%d\r\nTo: <sip:%s@127.0.0.1>\r\n"
              "Call-ID: reg-%s-%d@127.0.0.1\r\nCSeq: 1 REGISTER\r\n"
              "Contact: <sip:%s@127.0.0.1:%d>;label=%s;expires=300\r\n"
              "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
              % (port, lp, lp, aor, lp, aor, label, lp, label, contact_port,
                 label)).encode(), ("127.0.0.1", port))
    try:
        data = s.recv(65536).decode(errors="replace")
        return int(data.split(" ", 2)[1])
    except (socket.timeout, ValueError, IndexError):
        return 0
    finally:
        s.close()


def follow_run(calls=20, rate=10, seq_calls=5):
    """Kamailio as the operator's proxy (FOLLOW_3XX) follows tspsd's 302:
    each call reaches the forward target (a sipp UAS) with tspsd's
    Diversion header and is answered 200 end to end; a reject still
    reaches the caller as tspsd's 486; a 300 of two devices (sequential
    ringing) rings the first (it answers 480), then the second, which
    answers. {figure: count}"""
    etcd, nodes = cluster(1, sip_extra="auth_register = false\n")
    kam = uas = None
    procs = []
    r = {}
    n = nodes[0]
    try:
        provision(n, 1)
        wait_provisioned(nodes, 1)
        uport = free_port()
        target = "sip:target@127.0.0.1:%d" % uport
        n.ctl("code", "set", "u0", "UNKNOWN", "forward", target)
        if not wait_for(lambda: routes_to(n, 0, "target@127.0.0.1"), 10, 0.1):
            raise RuntimeError("n1 does not route u0 to the target")
        uas, ustat = start_uas("uas_followed.xml", uport, calls, "uas")
        procs.append(uas)
        kam = Kamailio(nodes, follow=True)
        time.sleep(1.5)  # the first OPTIONS probe
        p, stat = sipp(kam, 1, rate, calls, "follow",
                       scenario="invite_followed.xml")
        r["ok"], r["failed"], _ = sipp_result(p, stat)
        r["target_ok"], r["target_failed"], _ = sipp_result(uas, ustat)
        # a reject is tspsd's answer to the caller, followed or not
        n.ctl("code", "set", "u0", "UNKNOWN", "reject", "busy")
        if not wait_for(lambda: routes_to(n, 0, "reject"), 10, 0.1):
            raise RuntimeError("n1 does not route u0 to reject")
        r["reject_status"] = sip_status(kam.port, number(0))
        # sequential ringing: desk (q 1.0) first, then mobile (q 0.9)
        dport, mport = free_port(), free_port()
        for label, port in (("desk", dport), ("mobile", mport)):
            code = sip_register(n.sip_port, number(0), label, port)
            if code != 200:
                raise RuntimeError("REGISTER of %s: %d" % (label, code))
        n.ctl("code", "set", "u0", "UNKNOWN", "ring", "sequential",
              "devices=desk,mobile")
        if not wait_for(lambda: routes_to(n, 0, "ring"), 10, 0.1):
            raise RuntimeError("n1 does not route u0 to ring")
        desk, dstat = start_uas("uas_480.xml", dport, seq_calls, "desk")
        mobile, mstat = start_uas("uas_answer.xml", mport, seq_calls,
                                  "mobile")
        procs += [desk, mobile]
        p, stat = sipp(kam, 1, 2, seq_calls, "seq",
                       scenario="invite_followed.xml")
        r["seq_ok"], r["seq_failed"], _ = sipp_result(p, stat)
        r["desk_480"], _, _ = sipp_result(desk, dstat)
        r["mobile_ok"], _, _ = sipp_result(mobile, mstat)
    finally:
        for q in procs:
            if q.poll() is None:
                q.kill()
        if kam:
            kam.stop()
        n.stop()
        etcd.kill()
    return r


def sip_status(port, num):
    """One INVITE to num at 127.0.0.1:port (UDP): the status of its final
    response (ACKed), or 0 when none came within 5 s."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    lp = s.getsockname()[1]
    cid = "follow-%d@127.0.0.1" % lp
    head = ("Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-f%d;rport\r\n"
            "From: <sip:+13125550013@127.0.0.1:%d>;tag=f%d\r\n"
            % (lp, lp, lp, lp))
    s.sendto(("INVITE sip:%s@127.0.0.1:%d SIP/2.0\r\n%s"
              "To: <sip:%s@127.0.0.1:%d>\r\nCall-ID: %s\r\n"
              "CSeq: 1 INVITE\r\nContact: <sip:+13125550013@127.0.0.1:%d>\r\n"
              "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
              % (num, port, head, num, port, cid, lp)).encode(),
             ("127.0.0.1", port))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            data = s.recv(65536).decode(errors="replace")
        except socket.timeout:
            break
        code = int(data.split(" ", 2)[1])
        if code >= 200:
            to = re.search(r"^To: (.*)$", data, re.M | re.I).group(1).strip()
            s.sendto(("ACK sip:%s@127.0.0.1:%d SIP/2.0\r\n%sTo: %s\r\n"
                      "Call-ID: %s\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\n"
                      "Content-Length: 0\r\n\r\n"
                      % (num, port, head, to, cid)).encode(),
                     ("127.0.0.1", port))
            s.close()
            return code
    s.close()
    return 0


def test():
    calls, rate = ARGS.calls, ARGS.rate
    f = follow_run()
    print("cluster_sip: 20 calls through kamailio following tspsd's 302 "
          "(FOLLOW_3XX): %(ok)d ok, %(failed)d failed at the caller; the "
          "target answered %(target_ok)d with tspsd's Diversion, "
          "%(target_failed)d failed; a reject reached the caller as "
          "%(reject_status)d; 5 calls ringing desk then mobile (300): "
          "%(seq_ok)d ok, %(seq_failed)d failed, desk said 480 to "
          "%(desk_480)d, mobile answered %(mobile_ok)d" % f)
    if (f["ok"] != 20 or f["target_ok"] != 20 or f["reject_status"] != 486
            or f["seq_ok"] != 5 or f["desk_480"] != 5
            or f["mobile_ok"] != 5):
        print("FAIL: a followed call did not reach its target (with the "
              "Diversion header), the reject was not passed back, or "
              "sequential ringing did not go desk then mobile (see %s)"
              % WORK)
        return 1
    ok, failed, retrans = failover_run(rate, calls)
    print("cluster_sip: %d calls at %d/s through kamailio, node n2 killed "
          "after a third: %d ok, %d failed, %d retransmissions"
          % (calls, rate, ok, failed, retrans))
    print("cluster_sip: n1 answered %d, n2 %d before it was killed; "
          "kamailio failed over %d times" % (FAILOVER["n1_calls"],
                                              FAILOVER["n2_calls"],
                                              FAILOVER["failovers"]))
    if failed != 0 or ok != calls:
        print("FAIL: calls failed (see %s)" % WORK)
        return 1
    if FAILOVER["n2_calls"] == 0 or FAILOVER["failovers"] == 0:
        print("FAIL: the killed node took no calls, or kamailio never "
              "failed over: the test proved nothing")
        return 1
    return 0


def etcd_direct_puts(url, n):
    """n puts one after another on one keep-alive connection: puts/s."""
    port = int(url.rsplit(":", 1)[1])
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    val = base64.b64encode(b"x" * 80).decode()
    t0 = time.monotonic()
    for i in range(n):
        key = base64.b64encode(b"/bench-direct/k%06d" % i).decode()
        c.request("POST", "/v3/kv/put",
                  body=json.dumps({"key": key, "value": val}))
        r = c.getresponse()
        r.read()
        if r.status != 200:
            raise RuntimeError("etcd put: %d" % r.status)
    return n / (time.monotonic() - t0)


def etcd_db_size(url):
    """etcd's database size in bytes (its /v3/maintenance/status)."""
    req = urllib.request.Request(url + "/v3/maintenance/status", data=b"{}",
                                 method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        return int(json.loads(r.read())["dbSize"])


def write_figures(figures):
    """Configuration writes through n1's control port (ctl_bench --writes:
    2 clients, 8 requests in flight each, a new rule per request): how fast
    n1 takes them, publishes them to etcd and n2 applies them."""
    etcd, nodes = cluster(2)
    try:
        provision(nodes[0], 1)
        wait_provisioned(nodes, 1)
        conf = open(os.path.join(nodes[0].data, "client.conf")).read()
        port = re.search(r"^port=(\d+)", conf, re.M).group(1)
        pub0 = nodes[0].metric("published_total")
        app0 = nodes[1].metric("applied_total")
        db0 = etcd_db_size(etcd.url)
        t0 = time.monotonic()
        r = subprocess.run([ARGS.ctl_bench, "--connect", "127.0.0.1:" + port,
                            "--data", nodes[0].data, "--writes", "u0",
                            "--clients", "2", "--window", "8", "--seconds",
                            str(ARGS.writes_seconds)],
                           capture_output=True, text=True, timeout=300)
        t_req = time.monotonic() - t0
        if r.returncode != 0:
            raise RuntimeError("ctl_bench: %s%s" % (r.stdout, r.stderr))
        out = dict(l.split("=", 1) for l in r.stdout.split())
        n = int(out["ctl_write_requests"])
        if not wait_for(lambda: nodes[0].metric("published_total") >=
                        pub0 + n, 600, 0.005):
            raise RuntimeError("n1 did not publish the writes")
        t_pub = time.monotonic() - t0
        rev = nodes[0].metric("etcd_revision")
        if not wait_for(lambda: nodes[1].metric("applied_revision") >= rev,
                        600, 0.005):
            raise RuntimeError("n2 did not apply the writes")
        t_app = time.monotonic() - t0
        if nodes[1].metric("applied_total") - app0 < n:
            raise RuntimeError("n2 applied fewer events than n1 published")
        # each write a new key holding a packed code.set request (~70 bytes)
        figures["etcd_db_bytes_per_rule_key"] = round(
            (etcd_db_size(etcd.url) - db0) / n)
        figures["node_write_requests_per_s"] = int(
            out["ctl_write_requests_per_s"])
        figures["etcd_writes_per_s"] = round(n / t_pub)
        figures["apply_events_per_s"] = round(n / t_app)
        figures["etcd_direct_puts_per_s"] = round(
            etcd_direct_puts(etcd.url, min(n, 3000)))
        print("# %d rule writes to n1 (p50 %s us, p99 %s us): taken in "
              "%.2f s, all published to etcd by %.2f s, all applied on n2 "
              "by %.2f s" % (n, out["ctl_write_p50_us"],
                             out["ctl_write_p99_us"], t_req, t_pub, t_app))
    finally:
        for nd in nodes:
            nd.stop()
        etcd.kill()


def writes():
    figures = {}
    write_figures(figures)
    for k in ("node_write_requests_per_s", "etcd_writes_per_s",
              "apply_events_per_s", "etcd_direct_puts_per_s",
              "etcd_db_bytes_per_rule_key"):
        print("%s=%s" % (k, figures[k]))
    return 0


def bench():
    figures = {}
    # cps with zero failures: the highest rate that passes
    best = 0
    for rate in ARGS.rates:
        etcd, nodes = cluster(2)
        kam = None
        try:
            provision(nodes[0], 20)
            wait_provisioned(nodes, 20)
            kam = Kamailio(nodes)
            time.sleep(1.5)
            p, stat = sipp(kam, 20, rate, rate * ARGS.seconds, "cps%d" % rate)
            ok, failed, _ = sipp_result(p, stat)
        finally:
            if kam:
                kam.stop()
            for n in nodes:
                n.stop()
            etcd.kill()
        print("# rate %d/s: %d ok, %d failed" % (rate, ok, failed))
        if failed == 0 and ok == rate * ARGS.seconds:
            best = rate
        else:
            break
    figures["cluster_cps_zero_fail"] = best
    if best == ARGS.rates[-1]:
        print("# every rate tried passed: the figure is a lower bound "
              "(--rates goes higher)")
    ok, failed, retrans = failover_run(ARGS.rate, ARGS.calls)
    figures["failover_failed_calls"] = failed
    figures["move_user_ms"] = MOVE["ms"]
    print("# failover: %d calls at %d/s, %d ok, %d retransmissions"
          % (ARGS.calls, ARGS.rate, ok, retrans))
    # propagation: from n1's reply to a rule change until n2 has applied
    # the revision etcd gave it (n2 applies an event to its store before it
    # counts it: the next route on n2 sees it, checked after each change)
    etcd, nodes = cluster(2)
    try:
        provision(nodes[0], 1)
        wait_provisioned(nodes, 1)
        dts = []
        for i in range(ARGS.changes):
            m, want = (("reject busy", "reject") if i % 2 == 0
                       else ("voicemail", "voicemail"))
            before = nodes[0].metric("etcd_revision")
            nodes[0].ctl("code", "set", "u0", "UNKNOWN", *m.split())
            t0 = time.monotonic()
            rev = wait_for(lambda: (lambda r: r if r > before else 0)(
                nodes[0].metric("etcd_revision")), 5, 0.0005)
            if not rev or not wait_for(
                    lambda: nodes[1].metric("applied_revision") >= rev, 5,
                    0.0005):
                raise RuntimeError("change %d never reached n2" % i)
            dts.append((time.monotonic() - t0) * 1000)
            if not routes_to(nodes[1], 0, want):
                raise RuntimeError("n2 applied change %d but routes by "
                                   "another rule" % i)
        dts.sort()
        figures["config_propagation_ms_p99"] = round(
            dts[min(len(dts) - 1, int(len(dts) * 0.99))], 1)
        # etcd down: routing on both nodes goes on
        etcd.kill()
        good = all(routes_to(n, 0, "voicemail") or routes_to(n, 0, "reject")
                   for n in nodes for _ in range(20))
        figures["etcd_down_routing_ok"] = 1 if good else 0
    finally:
        for n in nodes:
            n.stop()
        etcd.kill()
    write_figures(figures)
    for k in ("cluster_cps_zero_fail", "failover_failed_calls",
              "move_user_ms", "config_propagation_ms_p99", "etcd_down_routing_ok",
              "node_write_requests_per_s", "etcd_writes_per_s",
              "apply_events_per_s", "etcd_direct_puts_per_s",
              "etcd_db_bytes_per_rule_key"):
        print("%s=%s" % (k, figures[k]))
    return 0


def main():
    global ARGS, WORK
    ap = argparse.ArgumentParser()
    ap.add_argument("--tspsd", required=True)
    ap.add_argument("--tspsctl", required=True)
    ap.add_argument("--sipp", default="sipp")
    ap.add_argument("--etcd", default="etcd")
    ap.add_argument("--kamailio", default="kamailio")
    ap.add_argument("--kamailio-cfg", required=True)
    ap.add_argument("--scenarios", required=True)
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--writes", action="store_true")
    ap.add_argument("--writes-seconds", type=int, default=5)
    ap.add_argument("--ctl-bench", default="ctl_bench")
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--calls", type=int, default=1500)
    ap.add_argument("--rates", type=int, nargs="*",
                    default=[200, 400, 800, 1200, 1600, 2000, 2400, 3200])
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--changes", type=int, default=50)
    ap.add_argument("--keep", action="store_true")
    ARGS = ap.parse_args()
    WORK = tempfile.mkdtemp(prefix="tsps-cluster-")
    rc = 1
    try:
        rc = (bench() if ARGS.bench else writes() if ARGS.writes
              else test())
    finally:
        if rc == 0 and not ARGS.keep:
            shutil.rmtree(WORK, ignore_errors=True)
        else:
            print("work dir kept: %s" % WORK)
    return rc


if __name__ == "__main__":
    sys.exit(main())
