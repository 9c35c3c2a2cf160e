"""Persistent state: SQLite (rows hold JSON documents) plus content-addressed blobs on disk."""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS projects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    subdomain TEXT NOT NULL UNIQUE,
    data TEXT NOT NULL,
    UNIQUE (account, name)
);
CREATE TABLE IF NOT EXISTS deployments (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL,
    short_id TEXT NOT NULL,
    data TEXT NOT NULL,
    manifest TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS deployments_project ON deployments (project_id, seq);
CREATE TABLE IF NOT EXISTS domains (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL UNIQUE,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS assets (
    account TEXT NOT NULL,
    hash TEXT NOT NULL,
    blob TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (account, hash)
);
CREATE TABLE IF NOT EXISTS canonical_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    at REAL NOT NULL
);
"""


class Store:
    def __init__(self, data_dir: str | os.PathLike):
        self.data_dir = Path(data_dir)
        self.blob_dir = self.data_dir / "assets"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self._manifests: dict = {}
        self.db = sqlite3.connect(str(self.data_dir / "state.sqlite3"), isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        columns = {row["name"] for row in self.db.execute("PRAGMA table_info(deployments)")}
        if "manifest" not in columns:  # data dirs written before the manifest column existed
            self.db.execute("ALTER TABLE deployments ADD COLUMN manifest TEXT NOT NULL DEFAULT '{}'")

    def close(self):
        self.db.close()

    # -- transactions --------------------------------------------------------------------
    def begin(self):
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self):
        if self.db.in_transaction:
            self.db.execute("COMMIT")

    def rollback(self):
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    def wipe(self):
        self.rollback()
        for table in ("projects", "deployments", "domains", "assets", "canonical_events"):
            self.db.execute(f"DELETE FROM {table}")
        for path in self.blob_dir.iterdir():
            if path.is_file():
                path.unlink()

    # -- meta ----------------------------------------------------------------------------
    def meta_get(self, key: str):
        row = self.db.execute("SELECT v FROM meta WHERE k=?", (key,)).fetchone()
        return row["v"] if row else None

    def meta_set(self, key: str, value: str):
        self.db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", (key, value))

    # -- blobs ---------------------------------------------------------------------------
    def put_blob(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self.blob_dir / digest
        if not path.exists():
            tmp = path.with_name(f"{digest}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return digest

    def get_blob(self, digest: str) -> bytes | None:
        try:
            return (self.blob_dir / digest).read_bytes()
        except OSError:
            return None

    # -- assets (per account, keyed by the client's hash) -------------------------------
    def put_asset(self, account: str, key: str, data: bytes, content_type: str):
        self.put_asset_row(account, key, self.put_blob(data), content_type, len(data))

    def put_asset_row(self, account: str, key: str, digest: str, content_type: str, size: int):
        self.db.execute(
            "INSERT OR REPLACE INTO assets (account, hash, blob, content_type, size) VALUES (?,?,?,?,?)",
            (account, key, digest, content_type, size))

    def get_asset(self, account: str, key: str):
        return self.db.execute("SELECT * FROM assets WHERE account=? AND hash=?",
                               (account, key)).fetchone()

    def known_hashes(self, account: str, hashes) -> set:
        known = set()
        hashes = list(hashes)
        for i in range(0, len(hashes), 500):
            chunk = hashes[i:i + 500]
            q = ",".join("?" * len(chunk))
            for row in self.db.execute(
                    f"SELECT hash FROM assets WHERE account=? AND hash IN ({q})", (account, *chunk)):
                known.add(row["hash"])
        return known

    # -- projects ------------------------------------------------------------------------
    def insert_project(self, p: dict):
        self.db.execute(
            "INSERT INTO projects (id, account, name, subdomain, data) VALUES (?,?,?,?,?)",
            (p["id"], p["account"], p["name"], p["subdomain"], json.dumps(p)))

    def update_project(self, p: dict):
        self.db.execute("UPDATE projects SET data=? WHERE id=?", (json.dumps(p), p["id"]))

    def get_project(self, account: str, name: str) -> dict | None:
        row = self.db.execute("SELECT data FROM projects WHERE account=? AND name=?",
                              (account, name)).fetchone()
        return json.loads(row["data"]) if row else None

    def get_project_by_id(self, project_id: str) -> dict | None:
        row = self.db.execute("SELECT data FROM projects WHERE id=?", (project_id,)).fetchone()
        return json.loads(row["data"]) if row else None

    def get_project_by_subdomain(self, subdomain: str) -> dict | None:
        row = self.db.execute("SELECT data FROM projects WHERE subdomain=?", (subdomain,)).fetchone()
        return json.loads(row["data"]) if row else None

    def find_projects_by_name(self, name: str) -> list[dict]:
        rows = self.db.execute("SELECT data FROM projects WHERE name=? ORDER BY seq", (name,))
        return [json.loads(r["data"]) for r in rows]

    def subdomain_taken(self, subdomain: str) -> bool:
        return self.db.execute("SELECT 1 FROM projects WHERE subdomain=?", (subdomain,)).fetchone() is not None

    def list_projects(self, account: str) -> list[dict]:
        rows = self.db.execute("SELECT data FROM projects WHERE account=? ORDER BY seq DESC", (account,))
        return [json.loads(r["data"]) for r in rows]

    def delete_project(self, project_id: str):
        self.db.execute("DELETE FROM projects WHERE id=?", (project_id,))
        self.db.execute("DELETE FROM deployments WHERE project_id=?", (project_id,))
        self.db.execute("DELETE FROM domains WHERE project_id=?", (project_id,))
        self.db.execute("DELETE FROM canonical_events WHERE project_id=?", (project_id,))

    # -- deployments ---------------------------------------------------------------------
    # The manifest (up to 20,000+ entries) lives in its own column so that listing and rendering
    # deployments never parses it; serving and retry read it with get_manifest().
    def insert_deployment(self, d: dict):
        data = {k: v for k, v in d.items() if k != "manifest"}
        self.db.execute(
            "INSERT INTO deployments (id, project_id, short_id, data, manifest) VALUES (?,?,?,?,?)",
            (d["id"], d["project_id"], d["short_id"], json.dumps(data), json.dumps(d.get("manifest") or {})))

    def get_deployment(self, deployment_id: str) -> dict | None:
        row = self.db.execute("SELECT data FROM deployments WHERE id=?", (deployment_id,)).fetchone()
        return json.loads(row["data"]) if row else None

    def update_deployment(self, d: dict):
        """Rewrite a deployment's document (its manifest column never changes)."""
        data = {k: v for k, v in d.items() if k != "manifest"}
        self.db.execute("UPDATE deployments SET data=? WHERE id=?", (json.dumps(data), d["id"]))

    def pending_worker_checks(self) -> list[dict]:
        rows = self.db.execute("SELECT data FROM deployments WHERE "
                               "json_extract(data, '$.worker_check.status') = 'pending' ORDER BY seq")
        return [json.loads(r["data"]) for r in rows]

    def get_manifest(self, deployment_id: str) -> dict:
        """A deployment's manifest (immutable, so cached; ids are never reused)."""
        cached = self._manifests.get(deployment_id)
        if cached is not None:
            return cached
        row = self.db.execute("SELECT manifest FROM deployments WHERE id=?", (deployment_id,)).fetchone()
        if not row:
            return {}
        manifest = json.loads(row["manifest"])
        if len(self._manifests) >= 64:
            self._manifests.pop(next(iter(self._manifests)))
        self._manifests[deployment_id] = manifest
        return manifest

    def list_deployments(self, project_id: str) -> list[dict]:
        """All deployments of a project, newest first."""
        rows = self.db.execute("SELECT data FROM deployments WHERE project_id=? ORDER BY seq DESC",
                               (project_id,))
        return [json.loads(r["data"]) for r in rows]

    def count_deployments(self, project_id: str) -> int:
        return self.db.execute("SELECT COUNT(*) AS n FROM deployments WHERE project_id=?",
                               (project_id,)).fetchone()["n"]

    def short_id_taken(self, project_id: str, short_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM deployments WHERE project_id=? AND short_id=?",
                               (project_id, short_id)).fetchone() is not None

    def delete_deployment(self, deployment_id: str):
        self.db.execute("DELETE FROM deployments WHERE id=?", (deployment_id,))
        self.db.execute("DELETE FROM canonical_events WHERE deployment_id=?", (deployment_id,))

    # -- canonical (live production) deployment -----------------------------------------
    def add_canonical_event(self, project_id: str, deployment_id: str, at: float):
        self.db.execute("INSERT INTO canonical_events (project_id, deployment_id, at) VALUES (?,?,?)",
                        (project_id, deployment_id, at))

    def drop_canonical_events(self, deployment_id: str):
        """A build that will never deploy (skipped) never becomes the live deployment."""
        self.db.execute("DELETE FROM canonical_events WHERE deployment_id=?", (deployment_id,))

    def canonical_id(self, project_id: str, now: float) -> str | None:
        row = self.db.execute(
            "SELECT deployment_id FROM canonical_events WHERE project_id=? AND at<=? "
            "ORDER BY at DESC, seq DESC LIMIT 1", (project_id, now)).fetchone()
        return row["deployment_id"] if row else None

    # -- domains -------------------------------------------------------------------------
    def insert_domain(self, d: dict):
        self.db.execute("INSERT INTO domains (id, project_id, name, data) VALUES (?,?,?,?)",
                        (d["id"], d["project_id"], d["name"], json.dumps(d)))

    def update_domain(self, d: dict):
        self.db.execute("UPDATE domains SET data=? WHERE id=?", (json.dumps(d), d["id"]))

    def get_domain(self, name: str) -> dict | None:
        row = self.db.execute("SELECT data FROM domains WHERE name=?", (name,)).fetchone()
        return json.loads(row["data"]) if row else None

    def list_domains(self, project_id: str) -> list[dict]:
        rows = self.db.execute("SELECT data FROM domains WHERE project_id=? ORDER BY seq", (project_id,))
        return [json.loads(r["data"]) for r in rows]

    def delete_domain(self, domain_id: str):
        self.db.execute("DELETE FROM domains WHERE id=?", (domain_id,))
