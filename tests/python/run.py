"""Run one pytest suite of the Python bindings (tests/python.cmake).

Exits 77 (CTest: skipped) with a loud message when a Debian module the
suites need is missing here; CI installs all of them (scripts/deps.sh test).
"""
import os
import sys

missing = []
for mod, pkg in (("pytest", "python3-pytest"), ("cffi", "python3-cffi"),
                 ("google.protobuf", "python3-protobuf")):
    try:
        __import__(mod)
    except ImportError:
        missing.append(pkg)
if missing or not os.path.exists(os.environ.get("TSPS_PY_BUILT", "")):
    print("*" * 72)
    print("SKIPPED: Python binding tests need %s (scripts/deps.sh test), "
          "and the package built (target tsps_python)"
          % (", ".join(missing) or "nothing more"))
    print("*" * 72)
    sys.exit(77)

import pytest  # noqa: E402

sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-rs",
                      "--rootdir", os.path.dirname(os.path.abspath(__file__))]
                     + sys.argv[1:]))
