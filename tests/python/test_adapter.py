"""Adapters written in Python, registered through cffi callbacks into a
real libcmsbridge registry, synced by cmsb_sync() into a real engine and
routed by libtsps."""
import os
import sqlite3
import sys

import pytest

import tsps
from conftest import ANN_DID

sys.path.insert(0, os.path.join(os.environ.get(
    "TSPS_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
    "examples", "python"))
import contacts_adapter as ex  # noqa: E402  (the example is what we test)


@pytest.fixture
def reg():
    with tsps.Registry() as r:
        yield r


def write_csv(path, rows):
    with open(path, "w") as f:
        f.write("uid,name,number,code\n")
        for r in rows:
            f.write(",".join(r) + "\n")


def test_csv_adapter_synced_and_routed(ann, reg, tmp_path):
    p = tmp_path / "phones.csv"
    write_csv(p, [("c1", "Vera", "040 555123", "VIP"),
                  ("c2", "Bert", "+49 89 4444", "block"),
                  ("c3", "Cleo", "+4930777", ""),
                  ("broken",)])
    reg.register(ex.CsvContacts)
    assert reg.schemes_registered("csv")
    with reg.open("csv:%s" % p) as src:
        assert src.scheme == "csv"
        assert src.caps & tsps.CAP_WRITE and not src.caps & tsps.CAP_CHANGES
        assert isinstance(src.adapter, ex.CsvContacts)
        assert [c.uid for c in src.contacts()] == ["c1", "c2", "c3"]
        st = src.sync(ann, user="ann", name="crm")
        assert st.contacts_put == 3 and st.full      # no changes(): full
        c = ann.get_contact("ann", "c2")
        assert c.source == "crm" and c.code == "BLOCK"
        d = ann.route(ANN_DID, caller="+49894444")
        assert d.caller_kind == "known" and d.contact_uid == "c2"
        assert d.code == "BLOCK" and d.method.kind == "reject"
        # a code written back through the adapter, synced, routes anew
        src.write_code("c2", "VIP")
        assert "c2,Bert,+49 89 4444,VIP" in p.read_text()
        src.sync(ann, user="ann", name="crm")
        assert ann.route(ANN_DID, caller="+49894444").code == "VIP"
        with pytest.raises(tsps.CmsbError) as ei:
            src.write_code("nobody", "VIP")
        assert ei.value.name == "CMSB_ENOTFOUND"
        # a contact removed from the file is gone after the next sync
        write_csv(p, [("c1", "Vera", "040 555123", "VIP")])
        src.sync(ann, user="ann", name="crm")
        assert [c.uid for c in ann.contacts("ann")] == ["c1"]


def test_sqlite_example_adapter(ann, reg, tmp_path):
    db = tmp_path / "crm.db"
    con = sqlite3.connect(str(db))
    con.execute("CREATE TABLE contacts (uid, name, number, code)")
    con.executemany("INSERT INTO contacts VALUES (?, ?, ?, ?)",
                    [("s1", "Sal", "+4940111", "VIP"),
                     ("s2", "Sue", "040 222", None)])
    con.commit()
    con.close()
    reg.register(ex.SqliteContacts)
    with reg.open("sqlite:%s" % db) as src:
        assert src.sync(ann, user="ann", name="sql").contacts_put == 2
        src.write_code("s2", "BLOCK")
        src.sync(ann, user="ann", name="sql")
    assert ann.route(ANN_DID, caller="+4940222").code == "BLOCK"


class Incremental(tsps.Adapter):
    """Changes with cursors and events: the incremental path of cmsb_sync."""
    scheme = "incr"
    data = {}

    def __init__(self, uri, options):
        super().__init__(uri, options)
        self.seen_since = []

    def contacts(self):
        return [tsps.Contact(u, n, numbers=[num]) for u, (n, num) in
                sorted(self.data.items())]

    def changes(self, since):
        self.seen_since.append(since)
        if since is None:
            for u, (n, num) in sorted(self.data.items()):
                yield tsps.Change.put(tsps.Contact(u, n, numbers=[num],
                                                   code="VIP"))
            yield tsps.Change.error("crm", 7, "no number")
        else:
            yield tsps.Change.delete("i1")
        yield tsps.Change.checkpoint("v%d" % len(self.seen_since))

    def events(self, start, end):
        yield tsps.Event("e1", start=start, end=end, summary="All along")


def test_incremental_adapter_with_cursor(ann, reg):
    Incremental.data = {"i1": ("One", "+4940101"), "i2": ("Two", "+4940102")}
    reg.register(Incremental)
    with reg.open("incr:x") as src:
        st = src.sync(ann, user="ann", name="inc")
        assert (st.contacts_put, st.errors) == (2, 1)
        # cmsb_sync stores the cursor with its NUL
        assert ann.cursor("cmsb/ann/inc").rstrip(b"\0") == b"v1"
        st = src.sync(ann, user="ann", name="inc")
        assert st.contacts_deleted == 1
        assert src.adapter.seen_since == [None, "v1"]
        assert [c.uid for c in ann.contacts("ann")] == ["i2"]
        ch = list(src.changes())
        assert ch[-1].kind == "checkpoint" and ch[0].contact.name == "One"
        evs = list(src.events(0, 3600))
        assert evs[0].uid == "e1"


class Failing(tsps.Adapter):
    scheme = "fail"

    def __init__(self, uri, options):
        super().__init__(uri, options)
        if "noopen" in uri:
            raise OSError("cannot reach the CRM")

    def contacts(self):
        yield tsps.Contact("ok", "Fine", numbers=["+4940999"])
        raise ValueError("row 2 is garbage")


class Bad(tsps.Adapter):
    scheme = "bad"

    def contacts(self):
        yield "not a contact"


def test_adapter_errors_become_exceptions(ann, reg):
    reg.register(Failing)
    reg.register(Bad)
    with pytest.raises(tsps.CmsbError) as ei:
        reg.open("fail:noopen")
    assert ei.value.name == "CMSB_EIO"
    assert isinstance(ei.value.__cause__, OSError)
    with reg.open("fail:x") as src:
        with pytest.raises(tsps.CmsbError) as ei:
            src.sync(ann, user="ann", name="f")
        assert isinstance(ei.value.__cause__, ValueError)
        assert ei.value.name == "CMSB_EPARSE"
        with pytest.raises(tsps.CmsbError):
            list(src.contacts())
    with reg.open("bad:x") as src:
        with pytest.raises(tsps.CmsbError) as ei:
            src.sync(ann, user="ann", name="b")
        assert isinstance(ei.value.__cause__, TypeError)
    with pytest.raises(tsps.CmsbError) as ei:
        reg.register(Failing)               # the scheme is taken
    assert ei.value.name == "CMSB_EEXIST"
    with pytest.raises(TypeError):
        reg.register(object)
    with pytest.raises(tsps.CmsbError) as ei:
        reg.open("nosuch:x")
    assert ei.value.name == "CMSB_ENOSCHEME"


def test_vcard_dir_builtin(ann, reg):
    """The built-in C adapter through the same Python API."""
    data = os.path.join(os.environ.get("TSPS_SOURCE_DIR", "."), "examples",
                        "data")
    with reg.open("vcard-dir:" + data) as src:
        assert src.adapter is None
        st = src.sync(ann, user="ann", name="demo")
        assert st.contacts_put >= 3
    assert len(list(ann.contacts("ann"))) == st.contacts_put


def test_registry_close_closes_sources(reg, tmp_path):
    p = tmp_path / "p.csv"
    write_csv(p, [])
    reg.register(ex.CsvContacts)
    src = reg.open("csv:%s" % p)
    reg.close()
    assert src.closed
    with pytest.raises(tsps.ClosedError):
        list(src.contacts())
    with pytest.raises(tsps.ClosedError):
        reg.open("csv:%s" % p)


def test_example_main(store_dir, tmp_path, capsys):
    p = tmp_path / "p.csv"
    write_csv(p, [("c1", "Vera", "040 555123", "VIP")])
    ex.main(os.path.join(store_dir, "s"), "csv:%s" % p, ANN_DID,
            "+4940555123")
    out = capsys.readouterr().out
    assert "synced 1 contacts" in out and "Vera" in out
