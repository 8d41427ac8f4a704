"""python3 -m tsps --version | route STORE CALLED [CALLER]"""
import argparse
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m tsps",
                                description="tsps Python bindings")
    p.add_argument("--version", action="store_true",
                   help="print the package, library and protocol versions")
    sub = p.add_subparsers(dest="cmd")
    r = sub.add_parser("route", help="route one call against a store "
                                     "(read-only) and explain it")
    r.add_argument("store")
    r.add_argument("called")
    r.add_argument("caller", nargs="?")
    a = p.parse_args(argv)
    import tsps
    if a.version:
        v = tsps.library_versions()
        try:
            from tsps import tsps_pb2
            proto = tsps_pb2.PROTOCOL_VERSION
        except ImportError:
            proto = "?"
        print("tsps %s (libtsps %s, libcmsbridge %s, control protocol %s)"
              % (v["tsps-python"], v["libtsps"], v["libcmsbridge"], proto))
        return 0
    if a.cmd == "route":
        try:
            with tsps.Engine(a.store, readonly=True) as eng:
                d = eng.route(a.called, a.caller)
                print(d.explain())
        except tsps.Error as e:
            print("tsps: %s" % e, file=sys.stderr)
            return 1
        return 0
    p.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
