"""A real tspsd for the control-client suite: certificates made here with
the openssl command line (a CA, a server certificate for 127.0.0.1, client
certificates by CN), a throwaway config and data folder in a temp dir, free
loopback ports for control, metrics and SIP; started, waited for, stopped."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from tsps import control


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_ca(d, name="ca", cn="python test CA"):
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             name + ".key", "-out", name + ".pem", "-days", "2", "-subj",
             "/CN=" + cn, cwd=d)


def make_cert(d, cn, ca="ca", server=False):
    ext = os.path.join(d, cn + ".ext")
    with open(ext, "w") as f:
        if server:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                    "extendedKeyUsage=serverAuth\n")
        else:
            f.write("extendedKeyUsage=clientAuth\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             cn + ".key", "-out", cn + ".csr", "-subj", "/CN=" + cn, cwd=d)
    _openssl("x509", "-req", "-in", cn + ".csr", "-CA", ca + ".pem",
             "-CAkey", ca + ".key", "-CAcreateserial", "-out", cn + ".pem",
             "-days", "2", "-extfile", ext, cwd=d)
    return os.path.join(d, cn + ".pem"), os.path.join(d, cn + ".key")


class Tspsd:
    IDENTITIES = ("admin", "ann", "bob", "att")

    def __init__(self, binary):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="tsps-py-ctl-")
        self.certs = os.path.join(self.dir, "certs")
        os.mkdir(self.certs)
        make_ca(self.certs)
        make_cert(self.certs, "server", server=True)
        for i in self.IDENTITIES:
            make_cert(self.certs, i)
        make_ca(self.certs, "other", "another CA")
        self.ca = os.path.join(self.certs, "ca.pem")
        self.port = free_port()
        self.sip_port = free_port(socket.SOCK_DGRAM)
        self.conf = os.path.join(self.dir, "tspsd.conf")
        self.log = os.path.join(self.dir, "tspsd.log")
        with open(self.conf, "w") as f:
            f.write("[tspsd]\ndata_dir = %s/data\nlog_level = debug\n"
                    "[control]\nlisten = 127.0.0.1\nport = %d\n"
                    "cert = %s/server.pem\nkey = %s/server.key\nca = %s\n"
                    "[metrics]\nlisten = 127.0.0.1\nport = %d\n"
                    "[sip]\nenabled = true\nlisten = 127.0.0.1\n"
                    "udp_port = %d\ntcp_port = 0\n"
                    "[web]\nlisten = 127.0.0.1\nport = 0\n"
                    "[admin]\nidentities = admin\n"
                    % (self.dir, self.port, self.certs, self.certs, self.ca,
                       free_port(), self.sip_port))
        self.proc = None

    def start(self):
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([self.binary, "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=logf)
        logf.close()
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("tspsd exited early: %s"
                                   % open(self.log).read()[-2000:])
            try:
                self.connect("admin").close()
                return
            except (OSError, control.ConnectionClosedError):
                if time.monotonic() > deadline:
                    raise RuntimeError("tspsd did not come up (see %s)"
                                       % self.log)
                time.sleep(0.1)

    def connect(self, identity=None, token=None, ca=None, **kw):
        cert = key = None
        if identity is not None:
            cert = os.path.join(self.certs, identity + ".pem")
            key = os.path.join(self.certs, identity + ".key")
        return control.connect("127.0.0.1", self.port, ca=ca or self.ca,
                               cert=cert, key=key, token=token, **kw)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc is not None else None
        self.proc = None
        return rc

    def cleanup(self):
        self.stop()
        if not os.environ.get("TSPS_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)
