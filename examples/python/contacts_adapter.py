#!/usr/bin/python3
"""Two libcmsbridge adapters written in Python, synced into an engine.

    csv:/path/phones.csv        uid,name,number,code  (header line first)
    sqlite:/path/crm.db         table contacts(uid, name, number, code)

Run:  /usr/bin/python3 examples/python/contacts_adapter.py STORE_DIR \\
          csv:examples/adapter/phones.csv +4930111 "+49 30 1234567"
It creates user "ann" with number +4930111 if needed, syncs the source,
routes one call from the last argument and prints the decision's trace.
"""
import csv
import sqlite3
import sys

import tsps


class CsvContacts(tsps.Adapter):
    """A CSV phone list; writes codes back into its code column."""
    scheme = "csv"

    def __init__(self, uri, options):
        super().__init__(uri, options)
        self.path = uri.split(":", 1)[1]
        open(self.path).close()          # fail the open if it is missing

    def _rows(self):
        with open(self.path, newline="") as f:
            return list(csv.reader(f))

    def contacts(self):
        for line, row in enumerate(self._rows()[1:], start=2):
            if len(row) < 3:              # skipped, like a malformed card
                continue
            yield tsps.Contact(uid=row[0], name=row[1], numbers=[row[2]],
                               code=(row[3] if len(row) > 3 else "").upper(),
                               code_source="property")

    def write_code(self, uid, code):
        rows = self._rows()
        hit = [r for r in rows[1:] if r and r[0] == uid]
        if not hit:
            raise tsps.AdapterError(tsps.CMSB_ENOTFOUND)
        for r in hit:
            r[3:] = [code]
        with open(self.path, "w", newline="") as f:
            csv.writer(f).writerows(rows)


class SqliteContacts(tsps.Adapter):
    """A CRM table in SQLite: contacts(uid, name, number, code)."""
    scheme = "sqlite"

    def __init__(self, uri, options):
        super().__init__(uri, options)
        self.db = sqlite3.connect(uri.split(":", 1)[1])

    def close(self):
        self.db.close()

    def contacts(self):
        for uid, name, number, code in self.db.execute(
                "SELECT uid, name, number, coalesce(code, '') FROM contacts"):
            yield tsps.Contact(uid=uid, name=name, numbers=[number],
                               code=code, code_source="property")

    def write_code(self, uid, code):
        cur = self.db.execute("UPDATE contacts SET code = ? WHERE uid = ?",
                              (code, uid))
        self.db.commit()
        if cur.rowcount == 0:
            raise KeyError(uid)           # -> CMSB_ENOTFOUND


def main(store, uri, did, caller):
    with tsps.Engine(store) as eng, tsps.Registry() as reg:
        reg.register(CsvContacts)
        reg.register(SqliteContacts)
        try:
            eng.get_user("ann")
        except tsps.NotFoundError:
            eng.put_user(tsps.User("ann", region="DE", tz="Europe/Berlin"))
            eng.add_number("ann", did)
            eng.set_rule("ann", "VIP", "ring then voicemail")
        with reg.open(uri) as src:
            st = src.sync(eng, user="ann", name="crm")
            print("synced %d contacts" % st.contacts_put)
        print(eng.route(did, caller).explain())


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
