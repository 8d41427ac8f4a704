"""`pip install ./bindings/python` without network (the README's command),
into a throwaway virtualenv that sees Debian's python3-cffi/-protobuf, then
`python3 -m tsps --version` and a routed call from the installed package.

The install runs from a mirror of the repository in a temp dir (bindings/
copied, the C headers and proto/ linked) so the source tree stays clean."""
import os
import re
import shutil
import subprocess
import sys

import pytest

SRC = os.environ.get("TSPS_SOURCE_DIR",
                     os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("TSPS_BUILD_DIR")

pytestmark = pytest.mark.skipif(not BUILD, reason="TSPS_BUILD_DIR not set "
                                "(tests/python.cmake sets it)")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "TSPS_BUILD_DIR")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(os.path.join(SRC, "bindings"), root / "bindings",
                    ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                  "__pycache__", "_native*",
                                                  "tsps_pb2.py"))
    for d in ("libtsps", "libcmsbridge", "proto"):
        os.symlink(os.path.join(os.path.abspath(SRC), d), root / d)
    return root


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    v = tmp_path_factory.mktemp("venv")
    r = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages",
                        str(v)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("SKIPPED LOUDLY: python3 -m venv failed (Debian "
                    "python3-venv missing?): " + r.stderr[-500:])
    return v


def test_pip_install_and_version(mirror, venv, tmp_path):
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
           "--no-build-isolation", "--no-index", "./bindings/python"]
    r = subprocess.run(pip, cwd=str(mirror), capture_output=True, text=True,
                       env=clean_env(TSPS_BUILD_DIR=os.path.abspath(BUILD)),
                       timeout=240)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    py = str(venv / "bin" / "python")
    r = subprocess.run([py, "-m", "tsps", "--version"], cwd=str(tmp_path),
                       capture_output=True, text=True, env=clean_env())
    assert r.returncode == 0, r.stderr
    m = re.fullmatch(r"tsps (\S+) \(libtsps (\S+), libcmsbridge (\S+), "
                     r"control protocol (\d+)\)\n", r.stdout)
    assert m, r.stdout
    cmake = open(os.path.join(SRC, "CMakeLists.txt")).read()
    version = re.search(r"project\(tsps VERSION (\S+)", cmake).group(1)
    # libcmsbridge has its own version line (CMSB_VERSION_* in cmsb.h)
    hdr = open(os.path.join(SRC, "libcmsbridge", "include", "cmsb",
                            "cmsb.h")).read()
    cmsb = ".".join(re.search(r"#define CMSB_VERSION_%s (\d+)" % k,
                              hdr).group(1)
                    for k in ("MAJOR", "MINOR", "PATCH"))
    assert m.group(2) == version and m.group(3) == cmsb
    # the installed package, not the build tree, routes a call
    script = (
        "import tsps, sys\n"
        "assert '/site-packages/tsps/' in tsps.__file__, tsps.__file__\n"
        "with tsps.Engine(sys.argv[1], nosync=True) as e:\n"
        "    e.put_user(tsps.User('ann', region='DE'))\n"
        "    e.add_number('ann', '+49301234567')\n"
        "    e.set_rule('ann', 'UNKNOWN', 'voicemail sip:vm@x')\n"
        "print(tsps.Engine(sys.argv[1], readonly=True)"
        ".route('+49301234567', '+4940555').method)\n")
    r = subprocess.run([py, "-c", script, str(tmp_path / "store")],
                       cwd=str(tmp_path), capture_output=True, text=True,
                       env=clean_env())
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "voicemail sip:vm@x"
    r = subprocess.run([py, "-m", "tsps", "route", str(tmp_path / "store"),
                        "+49301234567", "+4940555"], cwd=str(tmp_path),
                       capture_output=True, text=True, env=clean_env())
    assert r.returncode == 0 and "ann" in r.stdout, r.stderr
    r = subprocess.run([py, "-m", "tsps", "route", str(tmp_path / "none"),
                        "+49301234567"], cwd=str(tmp_path),
                       capture_output=True, text=True, env=clean_env())
    assert r.returncode == 1 and "tsps:" in r.stderr


def test_pip_install_says_where_libraries_are_missing(mirror, venv,
                                                      tmp_path):
    empty = tmp_path / "empty-build"
    empty.mkdir()
    r = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install",
                        "--no-build-isolation", "--no-index",
                        "./bindings/python"], cwd=str(mirror),
                       capture_output=True, text=True,
                       env=clean_env(TSPS_BUILD_DIR=str(empty)), timeout=240)
    assert r.returncode != 0
    assert "has no libtsps/libtsps.so" in r.stdout + r.stderr
