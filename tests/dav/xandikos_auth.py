#!/usr/bin/python3
"""Xandikos behind HTTP Basic auth, for the DAV tests.

Xandikos has no authentication of its own (its documentation puts it
behind a reverse proxy that authenticates). This runs the same aiohttp
application `xandikos` builds, with a middleware in front that demands
Basic credentials from DIR/users ("user:password" lines, reread on every
request) and answers 401 otherwise, as the proxy would. One principal,
/alice/, with its address book home /alice/contacts/ and calendar home
/alice/calendars/; /.well-known/carddav|caldav answer 301 to /.
Usage: xandikos_auth.py STORE USERS PORT
"""
import base64
import logging
import os
import sys

from aiohttp import web
from xandikos.web import XandikosApp, XandikosBackend

store, users, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
logging.basicConfig(level=logging.WARNING)
os.makedirs(store, exist_ok=True)
backend = XandikosBackend(store)
backend._mark_as_principal("/alice/")
backend.create_principal("/alice/", create_defaults=False)
dav = XandikosApp(backend, current_user_principal="/alice/", strict=True)


def allowed(header):
    if not header.startswith("Basic "):
        return False
    try:
        cred = base64.b64decode(header[6:]).decode()
    except ValueError:
        return False
    with open(users) as f:
        return cred in (line.rstrip("\n") for line in f)


@web.middleware
async def basic_auth(request, handler):
    if not allowed(request.headers.get("Authorization", "")):
        return web.Response(status=401, text="authentication required",
                            headers={"WWW-Authenticate":
                                     'Basic realm="xandikos"'})
    return await handler(request)


async def handle(request):
    return await dav.aiohttp_handler(request, "/")


async def well_known(request):
    raise web.HTTPMovedPermanently("/")


app = web.Application(middlewares=[basic_auth])
app.router.add_route("*", "/.well-known/carddav", well_known)
app.router.add_route("*", "/.well-known/caldav", well_known)
app.router.add_route("*", "/{path_info:.*}", handle)
web.run_app(app, host="127.0.0.1", port=port, print=None,
            access_log=None)
