#!/usr/bin/python3
"""Seed a Xandikos address book (a git working tree) with many cards in
one commit, as Xandikos itself stores one (file, blob, index entry), for
the carddav_sync benchmark: 10k PUTs would be 10k commits (tens of
minutes). Usage: xandikos_seed.py BOOK_DIR < lines "NAME DATA" (DATA with
"\\n" for line ends)."""
import os
import sys

from dulwich.index import IndexEntry, index_entry_from_stat
from dulwich.objects import Blob
from dulwich.repo import Repo

repo = Repo(sys.argv[1])
index = repo.open_index()
for line in sys.stdin:
    name, data = line.rstrip("\n").split(" ", 1)
    raw = data.replace("\\n", "\r\n").encode()
    path = os.path.join(repo.path, name)
    with open(path, "wb") as f:
        f.write(raw)
    blob = Blob.from_string(raw)
    repo.object_store.add_object(blob)
    index[name.encode()] = IndexEntry(
        *index_entry_from_stat(os.lstat(path), blob.id, 0))
index.write()
repo.do_commit(message=b"seed", tree=index.commit(repo.object_store))
