"""Local stand-ins for a worker's KV namespaces and D1 databases (SQLite files in the data dir).

workerd turns `env.<KV>.get/put/delete/list` into HTTP requests to the service a `kvNamespace`
binding names, and the D1 binding (workerd's `cloudflare-internal:d1-api` module, wrapped around
a fetcher) into `POST /query` / `POST /execute` requests; the emulator is that service (workerd
marks each request with the header workers.py injects). The request shapes are workerd's:
`src/workerd/api/kv.c++` (key percent-encoded in the path with `?urlencoded=true`, list with
`prefix`, `key_count_limit`, `cursor`, metadata in the `CF-KV-Metadata` header, `expiration` /
`expiration_ttl` on PUT) and `src/cloudflare/internal/d1-api.ts` (JSON `{sql, params}` or a list
of them, `?resultsFormat=NONE|ROWS_AND_COLUMNS|ARRAY_OF_OBJECTS`, answer `{success, results,
meta}` per statement). Data lives until `POST /__emulator/reset`.
"""
from __future__ import annotations

import json
import re
import shutil
import sqlite3
import time
from pathlib import Path
from urllib.parse import unquote

from aiohttp import web

from .util import parse_json

KV_METADATA = "CF-KV-Metadata"
KV_LIST_LIMIT = 1000


def _json(value, status=200):
    return web.Response(body=json.dumps(value).encode(), status=status,
                        content_type="application/json")


class LocalBindings:
    def __init__(self, data_dir, clock=time.time):
        self.dir = Path(data_dir) / "bindings"
        self.clock = clock
        self._kv = None
        self._d1: dict = {}

    def wipe(self):
        self.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def close(self):
        if self._kv is not None:
            self._kv.close()
            self._kv = None
        for conn in self._d1.values():
            conn.close()
        self._d1.clear()

    async def handle(self, kind: str, ident: str, request) -> web.Response:
        body = await request.read()
        if kind == "kv":
            return self.kv(ident, request.method, request.raw_path, request.query, request.headers, body)
        if kind == "d1":
            return self.d1(ident, request.path, request.query.get("resultsFormat", ""), body)
        return web.Response(status=501, text=f"binding kind {kind} is not emulated\n")

    # ------------------------------------------------------------------ KV
    def _kv_db(self):
        if self._kv is None:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._kv = sqlite3.connect(str(self.dir / "kv.sqlite3"), isolation_level=None)
            self._kv.execute("CREATE TABLE IF NOT EXISTS kv (ns TEXT NOT NULL, key TEXT NOT NULL, "
                             "value BLOB NOT NULL, metadata TEXT, expiration REAL, PRIMARY KEY (ns, key))")
        return self._kv

    def kv(self, ns, method, raw_path, query, headers, body) -> web.Response:
        db = self._kv_db()
        now = self.clock()
        db.execute("DELETE FROM kv WHERE expiration IS NOT NULL AND expiration <= ?", (now,))
        key = unquote(raw_path.split("?", 1)[0][1:])
        if method == "GET" and key == "":
            return self._kv_list(db, ns, query)
        if method == "GET":
            row = db.execute("SELECT value, metadata FROM kv WHERE ns=? AND key=?", (ns, key)).fetchone()
            if row is None:
                return web.Response(status=404, text="Not Found")
            extra = {KV_METADATA: row[1]} if row[1] is not None else {}
            return web.Response(body=row[0], headers=extra)
        if method == "PUT":
            expiration = None
            try:
                if query.get("expiration"):
                    expiration = float(query["expiration"])
                elif query.get("expiration_ttl"):
                    expiration = now + float(query["expiration_ttl"])
            except ValueError:
                return web.Response(status=400, text="Invalid expiration")
            db.execute("INSERT OR REPLACE INTO kv (ns, key, value, metadata, expiration) VALUES (?,?,?,?,?)",
                       (ns, key, body, headers.get(KV_METADATA), expiration))
            return web.Response(status=200)
        if method == "DELETE":
            db.execute("DELETE FROM kv WHERE ns=? AND key=?", (ns, key))
            return web.Response(status=200)
        return web.Response(status=501, text="this KV operation is not emulated")

    @staticmethod
    def _kv_list(db, ns, query) -> web.Response:
        prefix = query.get("prefix", "")
        try:
            limit = min(int(query.get("key_count_limit") or KV_LIST_LIMIT), KV_LIST_LIMIT)
            offset = int(query.get("cursor") or 0)
        except ValueError:
            return web.Response(status=400, text="Invalid list options")
        rows = [r for r in db.execute("SELECT key, metadata, expiration FROM kv WHERE ns=? ORDER BY key",
                                      (ns,)) if r[0].startswith(prefix)]
        page = rows[offset:offset + limit]
        keys = []
        for name, metadata, expiration in page:
            entry = {"name": name}
            if expiration is not None:
                entry["expiration"] = int(expiration)
            if metadata is not None:
                entry["metadata"] = json.loads(metadata)
            keys.append(entry)
        out = {"keys": keys, "list_complete": offset + limit >= len(rows)}
        if not out["list_complete"]:
            out["cursor"] = str(offset + limit)
        return _json(out)

    # ------------------------------------------------------------------ D1
    def _d1_db(self, database_id):
        conn = self._d1.get(database_id)
        if conn is None:
            safe = re.sub(r"[^A-Za-z0-9_-]", "_", database_id) or "_"
            (self.dir / "d1").mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.dir / "d1" / f"{safe}.sqlite3"), isolation_level=None)
            self._d1[database_id] = conn
        return conn

    def d1(self, database_id, path, results_format, body) -> web.Response:
        if path not in ("/query", "/execute"):
            return _json({"error": "Not found"}, 404)
        try:
            queries = parse_json(body)
        except ValueError:
            return _json({"success": False, "error": "the query body is not JSON"}, 400)
        conn = self._d1_db(database_id)
        batch = isinstance(queries, list)
        items = queries if batch else [queries]
        results = []
        conn.execute("BEGIN")   # a batch is one transaction, as in D1
        try:
            for q in items:
                results.append(self._d1_statement(conn, q, results_format))
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            conn.execute("ROLLBACK")
            results = [{"success": False, "error": f"{e}: SQLITE_ERROR"}]
        return _json(results if batch else results[0])

    @staticmethod
    def _d1_statement(conn, q, results_format):
        if not isinstance(q, dict) or not isinstance(q.get("sql"), str):
            raise sqlite3.ProgrammingError("each query needs an `sql` string")
        params = q.get("params") or []
        before = conn.total_changes
        cur = conn.execute(q["sql"], params)
        columns = [c[0] for c in cur.description or ()]
        rows = [[list(v) if isinstance(v, bytes) else v for v in row] for row in cur.fetchall()]
        changes = conn.total_changes - before
        if results_format == "ROWS_AND_COLUMNS":
            results = {"columns": columns, "rows": rows}
        else:   # NONE and ARRAY_OF_OBJECTS: objects (what .run() returned before formats existed)
            results = [dict(zip(columns, row)) for row in rows]
        page_count = conn.execute("PRAGMA page_count").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        return {"success": True, "results": results,
                "meta": {"duration": 0, "served_by": "pages-emulator", "changes": changes,
                         "last_row_id": cur.lastrowid or 0, "changed_db": changes > 0,
                         "size_after": page_count * page_size, "rows_read": len(rows),
                         "rows_written": changes}}
