#!/usr/bin/python3
"""A scripted CardDAV server for the quirks Radicale does not show.

Radicale never truncates a sync-collection (507), accepts an empty initial
token and never lists the collection among its changes. Real servers do:
Google refuses the empty token, iCloud lists the collection itself, large
collections get 507. This stub serves one address book /book/ whose sync
tokens script those answers:
  ""  -> 403 valid-sync-token (Google)      listing: a.vcf, b.vcf, token t1
  t1  -> a.vcf changed, then 507 (truncated), token t2
  t2  -> the collection itself (iCloud), b.vcf 404, token t3
  t3  -> nothing, token t3;  anything else -> 403 valid-sync-token
Two more collections:
  /slow/   120 cards, no sync-collection (listing), and a multiget takes
           SLOW_PER_HREF seconds per card asked: a fixed 200-card batch
           runs into any timeout under 10 s
  /sabre4/ sync tokens http://sabre.io/ns/sync/N as sabre/dav 4.x hands
           them out: x.vcf and y.vcf at token 5; after POST /restore (the
           server restored from an older backup) only x.vcf, token 3, and
           an old token 5 is answered 207 with no changes and token 3
With "digest" after DIR it also demands HTTP digest auth (alice/secret,
RFC 7616 MD5, qop=auth) and answers Basic with a digest challenge.
Usage: stub_dav.py DIR [digest]   (writes DIR/port and DIR/pid)
"""
import hashlib
import os
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CARD = ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\n"
        "TEL:+49 30 {tel}\r\nEND:VCARD\r\n")
A1 = CARD.format(uid="a", name="Anna", tel="1111111")
A2 = CARD.format(uid="a", name="Anna Changed", tel="1111111")
B1 = CARD.format(uid="b", name="Bob", tel="2222222")
NS = ('xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav" '
      'xmlns:S="http://calendarserver.org/ns/"')


def resp(href, props="", status=None):
    if status:
        return ("<D:response><D:href>%s</D:href><D:status>HTTP/1.1 %s"
                "</D:status></D:response>" % (href, status))
    return ("<D:response><D:href>%s</D:href><D:propstat><D:prop>%s</D:prop>"
            "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
            % (href, props))


def card(href, etag, data):
    return resp(href, "<D:getetag>%s</D:getetag><C:address-data>%s"
                "</C:address-data>" % (etag, data))


BOOK = ("<D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>"
        "<D:supported-report-set><D:supported-report><D:report>"
        "<D:sync-collection/></D:report></D:supported-report>"
        "</D:supported-report-set>")


LISTED = ("<D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>"
          "<D:supported-report-set><D:supported-report><D:report>"
          "<C:addressbook-multiget/></D:report></D:supported-report>"
          "</D:supported-report-set>")
SLOW_N = 120
SLOW_PER_HREF = 0.05


def slow_card(i):
    return CARD.format(uid="s%03d" % i, name="Slow %d" % i,
                       tel="%07d" % (3000000 + i))


X1 = CARD.format(uid="x", name="Xaver", tel="4444444")
Y1 = CARD.format(uid="y", name="Yvonne", tel="5555555")
SABRE = {"restored": False}


def sabre_state():
    """(token number, {href: (etag, data)})"""
    cards = {"/sabre4/x.vcf": ('"x1"', X1)}
    if not SABRE["restored"]:
        cards["/sabre4/y.vcf"] = ('"y1"', Y1)
        return 5, cards
    return 3, cards


DIGEST = False
REALM = "tsps"
NONCE = "5f0b1c2d3e4f"


def md5(x):
    return hashlib.md5(x.encode()).hexdigest()


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def authorized(self):
        """Digest check; answers 401 (with a challenge) when it fails."""
        if not DIGEST:
            return True
        h = self.headers.get("Authorization", "")
        f = dict(re.findall(r'(\w+)="?([^",]*)"?', h[7:])) \
            if h.startswith("Digest ") else {}
        ok = False
        if f.get("username") == "alice" and f.get("nonce") == NONCE:
            ha1 = md5("alice:%s:secret" % REALM)
            ha2 = md5("%s:%s" % (self.command, f.get("uri", "")))
            if f.get("qop"):
                want = md5("%s:%s:%s:%s:%s:%s" % (ha1, NONCE, f.get("nc"),
                           f.get("cnonce"), f.get("qop"), ha2))
            else:
                want = md5("%s:%s:%s" % (ha1, NONCE, ha2))
            ok = want == f.get("response")
        if not ok:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Digest realm="%s", '
                             'nonce="%s", qop="auth", algorithm=MD5'
                             % (REALM, NONCE))
            self.send_header("Content-Length", "0")
            self.end_headers()
        return ok

    def send(self, code, body):
        b = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def ms(self, inner):
        self.send(207, '<?xml version="1.0"?><D:multistatus %s>%s'
                  '</D:multistatus>' % (NS, inner))

    def body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n).decode()

    def do_POST(self):
        self.body()
        if self.path == "/restore":
            SABRE["restored"] = True
            self.send(204, "")
        else:
            self.send(404, "")

    def do_PROPFIND(self):
        if not self.authorized():
            return
        self.body()
        if self.path == "/slow/":
            if self.headers.get("Depth") == "0":
                self.ms(resp("/slow/", LISTED + "<S:getctag>s1</S:getctag>"))
            else:
                self.ms(resp("/slow/", LISTED) + "".join(
                    resp("/slow/s%03d.vcf" % i,
                         '<D:getetag>"s%d"</D:getetag>' % i)
                    for i in range(SLOW_N)))
            return
        if self.path == "/sabre4/":
            n, cards = sabre_state()
            tok = "<D:sync-token>http://sabre.io/ns/sync/%d</D:sync-token>" % n
            if self.headers.get("Depth") == "0":
                self.ms(resp("/sabre4/", BOOK + tok +
                             "<S:getctag>%d</S:getctag>" % n))
            else:
                self.ms(resp("/sabre4/", BOOK) + "".join(
                    resp(h, "<D:getetag>%s</D:getetag>" % e)
                    for h, (e, _) in sorted(cards.items())))
            return
        if self.path != "/book/":
            self.send(404, "")
        elif self.headers.get("Depth") == "0":
            self.ms(resp("/book/", BOOK + "<D:sync-token>t1</D:sync-token>"
                         "<S:getctag>c1</S:getctag>"))
        else:
            self.ms(resp("/book/", BOOK + "<D:sync-token>t1</D:sync-token>"
                         "<S:getctag>c1</S:getctag>") +
                    resp("/book/a.vcf", '<D:getetag>"a1"</D:getetag>') +
                    resp("/book/b.vcf", '<D:getetag>"b1"</D:getetag>'))

    def do_REPORT(self):
        if not self.authorized():
            return
        q = self.body()
        if self.path == "/slow/" and "addressbook-query" in q:
            # a server without addressbook-query: multigets it is
            self.send(501, "")
            return
        if self.path == "/slow/" and "addressbook-multiget" in q:
            hrefs = re.findall(r"<D:href>([^<]*)</D:href>", q)
            time.sleep(SLOW_PER_HREF * len(hrefs))
            out = ""
            for h in hrefs:
                m = re.match(r"/slow/s(\d+)\.vcf$", h)
                if m and int(m.group(1)) < SLOW_N:
                    i = int(m.group(1))
                    out += card(h, '"s%d"' % i, slow_card(i))
                else:
                    out += resp(h, status="404 Not Found")
            self.ms(out)
            return
        if self.path == "/sabre4/":
            n, cards = sabre_state()
            tok = "http://sabre.io/ns/sync/%d" % n
            if "addressbook-multiget" in q:
                self.ms("".join(card(h, *cards[h]) if h in cards else
                                resp(h, status="404 Not Found")
                                for h in re.findall(
                                    r"<D:href>([^<]*)</D:href>", q)))
                return
            m = re.search(r"<D:sync-token>([^<]*)</D:sync-token>", q)
            sent = m.group(1) if m else ""
            if sent == "":
                self.ms("".join(card(h, e, d)
                                for h, (e, d) in sorted(cards.items())) +
                        "<D:sync-token>%s</D:sync-token>" % tok)
            else:
                # sabre 4.x: a token it does not know (ahead of its
                # counter) gets no changes and the current token back
                self.ms("<D:sync-token>%s</D:sync-token>" % tok)
            return
        if "addressbook-multiget" in q:
            out = ""
            for h in re.findall(r"<D:href>([^<]*)</D:href>", q):
                if h.endswith("a.vcf"):
                    out += card(h, '"a1"', A1)
                elif h.endswith("b.vcf"):
                    out += card(h, '"b1"', B1)
                elif h.rstrip("/") == "/book":
                    # a client that took the collection for a member
                    out += card(h, '"coll"', CARD.format(
                        uid="coll", name="Collection", tel="0"))
                else:
                    out += resp(h, status="404 Not Found")
            self.ms(out)
            return
        m = re.search(r"<D:sync-token>([^<]*)</D:sync-token>", q)
        tok = m.group(1) if m else ""
        if tok == "t1":
            self.ms(card("/book/a.vcf", '"a2"', A2) +
                    "<D:response><D:href>/book/</D:href><D:status>HTTP/1.1 "
                    "507 Insufficient Storage</D:status><D:error>"
                    "<D:number-of-matches-within-limits/></D:error>"
                    "</D:response><D:sync-token>t2</D:sync-token>")
        elif tok == "t2":
            self.ms(resp("/book/", '<D:getetag>"coll"</D:getetag>') +
                    resp("/book/b.vcf", status="404 Not Found") +
                    "<D:sync-token>t3</D:sync-token>")
        elif tok == "t3":
            self.ms("<D:sync-token>t3</D:sync-token>")
        else:
            self.send(403, '<?xml version="1.0"?><D:error xmlns:D="DAV:">'
                      '<D:valid-sync-token/></D:error>')


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that timed out and hung up: expected (/slow/)


def main():
    global DIGEST
    d = sys.argv[1]
    DIGEST = len(sys.argv) > 2 and sys.argv[2] == "digest"
    srv = Server(("127.0.0.1", 0), H)
    with open(os.path.join(d, "pid"), "w") as f:
        f.write(str(os.getpid()))
    with open(os.path.join(d, "port.tmp"), "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
    srv.serve_forever()


if __name__ == "__main__":
    main()
