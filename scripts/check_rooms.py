#!/usr/bin/env python3
"""check_rooms.py - tspsd's rooms stay rooms (docs/architecture.md).

Reads every #include "..." of the C sources of tspsd/ and tspsctl/, maps
each file to its room, and fails when

  - a room includes a room it may not (the allowed edges below), or
  - the include graph between rooms has a circle.

With --lib ROOM=FILE.a (repeated), it also reads the symbols of the rooms'
static libraries (nm) and applies the same rules to "a library of one room
needs a symbol another room defines": a call across rooms without an
include (a declaration copied by hand) is caught too.

Usage: check_rooms.py [REPO_ROOT] [--edges] [--lib ROOM=LIB.a ...]
Exit 0 when clean, 1 with one line per violation.
"""
import os
import re
import subprocess
import sys

# Which rooms each room may include. app wires everything together;
# nothing includes it.
ALLOWED = {
    "base": set(),
    "core": {"base"},
    "control": {"core", "base"},
    "web": {"core", "base"},
    "sip": {"base"},
    "media": {"base"},
    "cli": {"base"},
    "cluster": {"base"},
    # cli: the blocking control client, for the cluster's peer requests
    "app": {"core", "control", "web", "sip", "media", "cluster", "base",
            "cli"},
}

# Files of tspsd/ itself (not in a room folder) that are not core.
ROOT_FILES = {
    "main.c": "app",
    "daemon.c": "app",
    "media_wire.c": "app",
    "media_wire.h": "app",
    "cluster_wire.c": "app",
    "cluster_wire.h": "app",
    "media_ctl.c": "app",
    "frame.c": "base",
    "frame.h": "base",
    "tls.c": "base",
    "tls.h": "base",
    "arena.c": "base",
    "arena.h": "base",
    "log.c": "base",
    "log.h": "base",
    "store_keys.h": "base",
}

# Known one-way exceptions: (file, included file) -> why.
EXCEPTIONS = {
    ("tspsd/h_admin.c", "tspsd/sip/sip_front.h"):
        "device credentials: pure store functions of the SIP room",
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def room_of(rel):
    parts = rel.split("/")
    if parts[0] == "tspsctl":
        return "cli"
    if parts[0] != "tspsd":
        return None
    if len(parts) == 2:
        return ROOT_FILES.get(parts[1], "core")
    sub = parts[1]
    return {"ctl": "control", "web": "web", "sip": "sip",
            "media": "media", "cluster": "cluster"}.get(sub, "core")


def sources(root):
    for top in ("tspsd", "tspsctl"):
        base = os.path.join(root, top)
        for dirpath, _, files in os.walk(base):
            for f in files:
                if f.endswith((".c", ".h")):
                    full = os.path.join(dirpath, f)
                    yield os.path.relpath(full, root)


def resolve(root, rel, inc):
    """The repo path of an include, or None (generated or system)."""
    here = os.path.dirname(rel)
    for cand in (os.path.join(here, inc), os.path.join("tspsd", inc),
                 os.path.join("tspsctl", inc)):
        cand = os.path.normpath(cand)
        if os.path.isfile(os.path.join(root, cand)):
            return cand
    return None


def find_cycle(graph):
    state = {}
    stack = []

    def dfs(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if state.get(m) is None:
                c = dfs(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if state.get(n) is None:
            c = dfs(n)
            if c:
                return c
    return None


def lib_symbols(path):
    """(defined, undefined) global symbols of a static library."""
    out = subprocess.run(["nm", "-g", path], capture_output=True, text=True,
                         check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDRBCV":
            defined.add(parts[2])
    return defined, undefined - defined


def link_edges(libs):
    """{(room, room): [symbols]} from --lib ROOM=FILE pairs."""
    syms = {room: lib_symbols(path) for room, path in libs}
    edges = {}
    for a, (_, und) in syms.items():
        for b, (dfn, _) in syms.items():
            if a != b and und & dfn:
                edges[(a, b)] = sorted(und & dfn)
    return edges


# Known one-way symbol edges (the include exception above).
LINK_EXCEPTIONS = {("core", "sip"): {"tspsd_sip_device_set",
                                     "tspsd_sip_device_remove",
                                     "tspsd_sip_password_ok"}}


def main(argv):
    args = [a for a in argv[1:]]
    libs = []
    while "--lib" in args:
        i = args.index("--lib")
        room, _, path = args[i + 1].partition("=")
        libs.append((room, path))
        del args[i:i + 2]
    root = os.path.abspath(args[0]) if args and not \
        args[0].startswith("--") else os.path.dirname(
            os.path.dirname(os.path.abspath(__file__)))
    show = "--edges" in argv
    bad = []
    graph = {}
    edges = {}
    for rel in sorted(sources(root)):
        src_room = room_of(rel)
        with open(os.path.join(root, rel), encoding="utf-8",
                  errors="replace") as f:
            text = f.read()
        for inc in INCLUDE.findall(text):
            target = resolve(root, rel, inc)
            if target is None:
                continue
            dst_room = room_of(target)
            if dst_room is None or dst_room == src_room:
                continue
            edges.setdefault((src_room, dst_room), []).append(
                "%s -> %s" % (rel, target))
            if (rel, target) in EXCEPTIONS:
                continue
            graph.setdefault(src_room, set()).add(dst_room)
            if dst_room not in ALLOWED.get(src_room, set()):
                bad.append("%s (%s) includes %s (%s): not allowed"
                           % (rel, src_room, target, dst_room))
    for (a, b), names in sorted(link_edges(libs).items()):
        if show:
            print("link %s -> %s (%d symbols)" % (a, b, len(names)))
        extra = set(names) - LINK_EXCEPTIONS.get((a, b), set())
        if not extra:
            continue
        graph.setdefault(a, set()).add(b)
        if b not in ALLOWED.get(a, set()):
            bad.append("library of %s needs %s of %s: not allowed"
                       % (a, ", ".join(sorted(extra)[:5]), b))
    cycle = find_cycle(graph)
    if cycle:
        bad.append("circle between rooms: " + " -> ".join(cycle))
    if show:
        for (a, b), files in sorted(edges.items()):
            print("%s -> %s (%d includes)" % (a, b, len(files)))
    for line in bad:
        print(line)
    if not bad:
        print("rooms ok: %d room edges, no circle" % len(edges))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
