"""RFC 4475 (SIP torture test messages), the ones tspsd's front is checked
against, written out from the RFC's text with the response the RFC expects
of a UAS/redirect server.

Lines are joined with CRLF here; bytes the RFC shows in its <hex> notation
are written as \\x escapes. Each entry: name -> (message bytes, expected
status, what the RFC says).
"""

SDP = ("v=0\r\n"
       "o=mhandley 29739 7272939 IN IP4 192.0.2.{h}\r\n"
       "s=-\r\n"
       "c=IN IP4 192.0.2.{c}\r\n"
       "t=0 0\r\n"
       "m=audio 49217 RTP/AVP 0 12\r\n"
       "m=video 3227 RTP/AVP 31\r\n"
       "a=rtpmap:31 LPC\r\n")


def crlf(lines):
    return "\r\n".join(lines) + "\r\n"


# 3.1.1.1 A Short Tortuous INVITE: valid; header names in any case,
# spaces around colons, folding, compact forms, escaped quotes.
WSINV = crlf([
    "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0",
    "TO :",
    " sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n",
    'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>',
    "  ;",
    "  tag = 98asjd8",
    "MaX-fOrWaRdS: 0068",
    "Call-ID: wsinv.ndaksdj@192.0.2.1",
    "Content-Length   : 150",
    "cseq: 0009",
    "  INVITE",
    "Via  : SIP  /   2.0",
    " /UDP",
    "    192.0.2.2;branch=390skdjuw",
    "s :",
    "NewFangledHeader:   newfangled value",
    " continued newfangled value",
    "UnknownHeaderWithUnusualValue: ;;,,;;,;",
    "Content-Type: application/sdp",
    "Route:",
    " <sip:services.example.com;lr;unknownwith=value;unknown-no-value>",
    "v:  SIP  / 2.0  / TCP     spindle.example.com   ;",
    "  branch  =   z9hG4bK9ikj8  ,",
    " SIP  /    2.0   / UDP  192.168.255.111   ; branch=",
    " z9hG4bK30239",
    'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =',
    "      newvalue ;",
    "  secondparam ; q = 0.33",
    ""]) + SDP.format(h=3, c=4)

# 3.1.1.2 Wide Range of Valid Characters: valid, an unknown method (501).
INTMETH = (
    b"!interesting-Method0123456789_*+`.%indeed'~ "
    b"sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,"
    b"weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\r\n"
    b'To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" '
    b"<sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>\r\n"
    b"From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>"
    b";fromParam''~+*_!.-%="
    + '"\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439"'.encode()
    + b";tag=_token~1'+`*%!-.\r\n"
    b"Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{\r\n"
    b"CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\r\n"
    b"Max-Forwards: 255\r\n"
    b"extensionHeader-!.%*+_`'~:" + "\ufeff\u5927\u505c\u96fb".encode() + b"\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n")

# 3.1.1.5 Use of % When It Is Not an Escape: valid, an unknown method.
ESC02 = crlf([
    "RE%47IST%45R sip:registrar.example.com SIP/2.0",
    'To: "%Z%45" <sip:resource@example.com>',
    'From: "%Z%45" <sip:resource@example.com>;tag=f232jadfj23',
    "Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf",
    "Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234",
    "CSeq: 29344 RE%47IST%45R",
    "Max-Forwards: 70",
    "Contact: <sip:alias1@host1.example.com>",
    "C%6Fntact: <sip:alias2@host2.example.com>",
    "Contact: <sip:alias3@host3.example.com>",
    "l: 0",
    ""])

# 3.1.1.7 Long Values in Header Fields: valid.
LONGREQ = crlf([
    "INVITE sip:user@example.com SIP/2.0",
    'To: "I have a user name of ' + "extreme" * 10 + ' proportion"'
    "<sip:user@example.com:6000;unknownparam1=very" + "long" * 20 + "value;"
    "longparam" + "name" * 25 + "=shortvalue;very" + "long" * 25 +
    "ParameterNameWithNoValue>",
    "F: sip:" + "amazinglylongcallername" * 5 + "@example.net;tag=12" + "982" * 50 +
    "424;unknownheaderparam" + "name" * 20 + "=unknowheaderparam" + "value" * 15 +
    ";unknownValueless" + "paramname" * 10,
    "Call-ID: longreq.one" + "really" * 20 + "longcallid",
    "CSeq: 3882340 INVITE",
    "Unknown-" + "Long" * 20 + "-Name: unknown-" + "long" * 20 + "-value; unknown-" +
    "long" * 20 + "-parameter-name = unknown-" + "long" * 20 + "-parameter-value"] +
    ["%s: SIP/2.0/TCP sip%d.example.com" % (n, 33 - i) for i, n in enumerate(
        ["Via", "v", "V", "Via", "ViA", "VIa", "VIA", "via", "viA", "vIa", "vIA",
         "V ", "v ", "V  ", "v  ", "Via ", "Via  "] + ["Via"] * 16)] + [
    "Via: SIP/2.0/TCP host.example.com;received=192.0.2.5;branch=very" +
    "long" * 50 + "branchvalue",
    "Max-Forwards: 70",
    "Contact: <sip:" + "amazinglylongcallername" * 5 + "@host5.example.net>",
    "Content-Type: application/sdp",
    "l: 150",
    ""]) + SDP.format(h=1, c=1)

# 3.1.2.6 Unterminated Quoted String in Display Name: invalid, 400.
QUOTBAL = crlf([
    "INVITE sip:user@example.com SIP/2.0",
    'To: "Mr. J. User <sip:j.user@example.com>',
    "From: sip:caller@example.net;tag=93334",
    "Max-Forwards: 10",
    "Call-ID: quotbal.aksdj",
    "Contact: <sip:caller@host59.example.net>",
    "CSeq: 8 INVITE",
    "Via: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234",
    "Content-Type: application/sdp",
    "Content-Length: 152",
    "",
    "v=0",
    "o=mhandley 29739 7272939 IN IP4 192.0.2.15",
    "s=-",
    "c=IN IP4 192.0.2.15",
    "t=0 0",
    "m=audio 49217 RTP/AVP 0 12",
    "m=video 3227 RTP/AVP 31",
    "a=rtpmap:31 LPC"])

# 3.1.2.9 Multiple SP Separating Request-Line Elements: may be rejected.
LWSSTART = crlf([
    "INVITE  sip:user@example.com  SIP/2.0",
    "Max-Forwards: 8",
    "To: sip:user@example.com",
    "From: sip:caller@example.net;tag=8814",
    "Call-ID: lwsstart.dfknq234oi243099adsdfnawe3@example.com",
    "CSeq: 1893884 INVITE",
    "Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw3923",
    "Contact: <sip:caller@host1.example.net>",
    "Content-Type: application/sdp",
    "Content-Length: 150",
    ""]) + SDP.format(h=1, c=1)

# 3.1.2.10 SP Characters at End of Request-Line: invalid, 400.
TRWS = crlf([
    "OPTIONS sip:remote-target@example.com SIP/2.0  ",
    "Via: SIP/2.0/TCP host1.examle.com;branch=z9hG4bK299342093",
    "To: <sip:remote-target@example.com>",
    "From: <sip:local-resource@example.com>;tag=329429089",
    "Call-ID: trws.oicu34958239neffasdhr2345r",
    "Accept: application/sdp",
    "CSeq: 238923 OPTIONS",
    "Max-Forwards: 70",
    "Content-Length: 0",
    ""])

# 3.1.2.12 Invalid Display Name (unquoted, with a comma): invalid, 400.
BADDN = crlf([
    "OPTIONS sip:t.watson@example.org SIP/2.0",
    "Via:     SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw",
    "Max-Forwards:      70",
    "From:    Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
    "To:      Watson, Thomas <sip:t.watson@example.org>",
    "Call-ID: baddn.31415@c.example.com",
    "Accept: application/sdp",
    "CSeq:    3923239 OPTIONS",
    "l: 0",
    ""])

# 3.1.2.13 Unknown Protocol Version: 505.
BADVERS = crlf([
    "OPTIONS sip:t.watson@example.org SIP/7.0",
    "Via:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw",
    "Max-Forwards:     70",
    "From:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe",
    "To:      T. Watson <sip:t.watson@example.org>",
    "Call-ID: badvers.31417@c.example.com",
    "CSeq:    1 OPTIONS",
    "l: 0",
    ""])

# 3.1.2.17 Multiple Values in Single Value Required Fields ... here the
# Content-Length twice (mcl01): invalid, 400.
MCL01 = crlf([
    "OPTIONS sip:user@example.com SIP/2.0",
    "Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bK293423",
    "To: sip:user@example.com",
    "From: sip:other@example.net;tag=3923942",
    "Call-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf",
    "CSeq: 15932 OPTIONS",
    "Content-Length: 13",
    "Max-Forwards: 60",
    "Content-Length: 5",
    "Content-Type: text/plain",
    "",
    "There's no way to know how many octets are supposed to be here."])

# 3.3.2 Request-URI with Unknown Scheme: 416.
UNKSCM = crlf([
    "OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0",
    "To: sip:user@example.com",
    "From: sip:caller@example.net;tag=384",
    "Max-Forwards: 3",
    "Call-ID: unkscm.nasdfasser0q239nwsdfasdkl34",
    "CSeq: 3923423 OPTIONS",
    "Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234",
    "Content-Length: 0",
    ""])

# 3.3.5 Unknown Proxy-Require and Require Extensions: 420 + Unsupported.
BEXT01 = crlf([
    "OPTIONS sip:user@example.com SIP/2.0",
    "To: sip:j_user@example.com",
    "From: sip:caller@example.net;tag=242etr",
    "Max-Forwards: 6",
    "Call-ID: bext01.0ha0isndaksdj",
    "Require: nothingSupportsThis, nothingSupportsThisEither",
    "Proxy-Require: noProxiesSupportThis, norDoAnyProxiesSupportThis",
    "CSeq: 8 OPTIONS",
    "Via: SIP/2.0/TLS fold-and-staple.example.com;branch=z9hG4bKkdjuw",
    "Content-Length: 0",
    ""])


def _b(m):
    return m if isinstance(m, bytes) else m.encode()


MESSAGES = {
    "wsinv": (_b(WSINV), 404, "valid: routed (no such number here -> 404)"),
    "longreq": (_b(LONGREQ), 404, "valid: routed (no such number here -> 404)"),
    "intmeth": (INTMETH, 501, "valid: an unknown method -> 501"),
    "esc02": (_b(ESC02), 501, "valid: an unknown method -> 501"),
    "badvers": (_b(BADVERS), 505, "unknown SIP version -> 505"),
    "lwsstart": (_b(LWSSTART), 400, "extra SP in the request line: rejected"),
    "trws": (_b(TRWS), 400, "SP after the SIP version: 400"),
    "mcl01": (_b(MCL01), 400, "two Content-Length values: 400"),
    "baddn": (_b(BADDN), 400, "unquoted display name with a comma: 400"),
    "quotbal": (_b(QUOTBAL), 400, "unterminated quoted string: 400"),
    "unkscm": (_b(UNKSCM), 416, "unknown Request-URI scheme: 416"),
    "bext01": (_b(BEXT01), 420, "unknown Require extensions: 420"),
}
