"""Workers scripts with static assets: the API subset a Worker deploy needs.

Endpoints (Cloudflare API reference "Workers Scripts", "Versions", "Deployments", "Secrets",
"Subdomain"; developers.cloudflare.com/workers/static-assets/direct-upload/ for the asset flow;
the shapes wrangler reads: workers-sdk ``packages/deploy-helpers/src/deploy/helpers/assets.ts``,
``create-worker-upload-form.ts``, ``versions-api.ts``, ``versions-types.ts``,
``triggers/subdomain.ts``, ``triggers/deploy.ts``). tests/emulator/README.md ("Workers scripts")
lists them with what is emulated and what is not.

State: one row per script (JSON: its versions, deployments, settings, workers.dev toggle), one
per account subdomain, one per asset-upload session. Asset bytes live in the shared blob store
under the account key ``workers:<account>`` (kept apart from Pages assets [G]).
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import uuid

from . import jwtutil
from .errors import APIError
from .util import iso, parse_json
from .workerbundle import MODULE_KINDS
from .workers_assets import HTML_HANDLING, NOT_FOUND_HANDLING, validate_run_worker_first

SCHEMA = """
CREATE TABLE IF NOT EXISTS workers_scripts (
    account TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account, name));
CREATE TABLE IF NOT EXISTS workers_subdomains (
    account TEXT PRIMARY KEY, subdomain TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS workers_asset_sessions (
    id TEXT PRIMARY KEY, account TEXT NOT NULL, script TEXT NOT NULL, data TEXT NOT NULL);
"""
# Limits: developers.cloudflare.com/workers/platform/limits/#static-assets (20,000 files on Free,
# 100,000 on paid plans; 25 MiB per file); the file count is the emulator's --max-file-count.
MAX_ASSET_SIZE = 25 * 1024 * 1024
# How the server cuts the missing files into buckets is its choice [G]; wrangler uploads whatever
# buckets it gets. These mirror wrangler's own Pages bucket limits.
BUCKET_MAX_BYTES = 40 * 1024 * 1024
BUCKET_MAX_FILES = 2000
SCRIPT_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$")  # [G] 63 chars (a DNS label)
HASH_RE = re.compile(r"^[0-9a-f]{32}$")
NULL_CONTENT_TYPE = "application/null"   # "to avoid sending a Content-Type header" (direct-upload docs)
AUTHOR_EMAIL = "dev@cfpages-emulator.example"
# Binding types the emulator runs (others are stored and listed but not provided to the Worker).
TEXT_BINDINGS = ("plain_text", "secret_text")
SECRET_TYPES = ("secret_text", "secret_key")

# --- errors: codes wrangler keys on are [E]; the others are [G] (README "Workers scripts")
MSG_SCRIPT_NOT_FOUND = "This Worker does not exist on your account."  # [E] wrangler worker-not-found-error.ts


def script_not_found():
    return APIError(404, 10007, MSG_SCRIPT_NOT_FOUND)


def invalid(message, code=10021):
    return APIError(400, code, message)


def version_not_found():
    return APIError(404, 10221, "Version not found.")  # [G]


def deployment_not_found():
    return APIError(404, 10222, "Deployment not found.")  # [G]


def secret_not_found():
    return APIError(404, 10056, "Secret not found.")  # [G]


def subdomain_not_found():
    return APIError(404, 10007, "This account does not have a workers.dev subdomain.")  # code [E] (wrangler)


def assets_jwt_error(detail):
    return APIError(401, 10000 if detail == "missing" else 10001,  # [G]
                    f"Authentication error: the assets upload token is {detail}.")


class WorkersScripts:
    def __init__(self, store, config, clock, jwt_secret: bytes):
        self.store = store
        self.config = config
        self.clock = clock
        self.jwt_secret = jwt_secret
        store.db.executescript(SCHEMA)

    def reset(self):
        for table in ("workers_scripts", "workers_subdomains", "workers_asset_sessions"):
            self.store.db.execute(f"DELETE FROM {table}")

    # ------------------------------------------------------------------ storage
    def find(self, account, name):
        """The script, or None."""
        row = self.store.db.execute("SELECT data FROM workers_scripts WHERE account=? AND name=?",
                                    (account, name)).fetchone()
        return json.loads(row["data"]) if row else None

    def get(self, account, name):
        s = self.find(account, name)
        if s is None:
            raise script_not_found()
        return s

    def _save(self, s):
        self.store.db.execute("INSERT OR REPLACE INTO workers_scripts (account, name, data) VALUES (?,?,?)",
                              (s["account"], s["name"], json.dumps(s)))

    def scripts_of(self, account):
        rows = self.store.db.execute("SELECT data FROM workers_scripts WHERE account=? ORDER BY name", (account,))
        return [json.loads(r["data"]) for r in rows]

    @staticmethod
    def asset_account(account):
        return f"workers:{account}"

    # ------------------------------------------------------------------ account subdomain
    def subdomain(self, account, create=True):
        """The account's workers.dev subdomain. Every account has one from the start
        (``<first 8 characters of the account id>``, [G]: real accounts register theirs once)."""
        row = self.store.db.execute("SELECT subdomain FROM workers_subdomains WHERE account=?", (account,)).fetchone()
        if row:
            return row["subdomain"]
        if not create:
            return None
        name = account[:8].lower()
        self.store.db.execute("INSERT OR IGNORE INTO workers_subdomains (account, subdomain) VALUES (?,?)",
                              (account, name))
        return name

    def set_subdomain(self, account, body):
        name = (body or {}).get("subdomain") if isinstance(body, dict) else None
        if not isinstance(name, str) or not SCRIPT_NAME_RE.match(name):
            raise invalid("`subdomain` must be a DNS label: lowercase letters, digits and dashes.", 10032)  # [G]
        other = self.store.db.execute("SELECT account FROM workers_subdomains WHERE subdomain=?", (name,)).fetchone()
        if other and other["account"] != account:
            raise APIError(409, 10036, "The subdomain is unavailable.")  # [G]
        self.store.db.execute("INSERT OR REPLACE INTO workers_subdomains (account, subdomain) VALUES (?,?)",
                              (account, name))
        return {"subdomain": name}

    def script_for_host(self, host):
        """(script, None) for ``<script>.<subdomain>.workers.dev``, else None."""
        if not host.endswith(".workers.dev"):
            return None
        labels = host[:-len(".workers.dev")].split(".")
        if len(labels) != 2:
            return None
        row = self.store.db.execute("SELECT account FROM workers_subdomains WHERE subdomain=?", (labels[1],)).fetchone()
        return self.find(row["account"], labels[0]) if row else None

    # ------------------------------------------------------------------ asset upload
    def _jwt(self, claims):
        """An upload or completion token: both are "valid for one hour" (direct-upload docs);
        ``workers_jwt_ttl`` of POST /__emulator/config shortens it for expiry tests."""
        now = self.clock()
        return jwtutil.encode({**claims, "iat": int(now), "exp": round(now + self.config.workers_jwt_ttl, 3),
                               "jti": uuid.uuid4().hex}, self.jwt_secret)

    def _session(self, session_id):
        row = self.store.db.execute("SELECT * FROM workers_asset_sessions WHERE id=?", (session_id,)).fetchone()
        return json.loads(row["data"]) if row else None

    def upload_session(self, account, name, body):
        if not SCRIPT_NAME_RE.match(name):
            raise invalid(f"Invalid Worker name {name!r}.", 10016)  # [G]
        manifest = body.get("manifest") if isinstance(body, dict) else None
        if not isinstance(manifest, dict):
            raise invalid("The request body must be {\"manifest\": {\"/path\": {\"hash\", \"size\"}}}.")
        if len(manifest) > self.config.max_file_count:
            raise invalid(f"The manifest has {len(manifest)} files; at most "
                          f"{self.config.max_file_count} are allowed.", 10195)  # [G]
        for path, entry in manifest.items():
            if not path.startswith("/"):
                raise invalid(f"Manifest path {path!r} must start with '/'.")
            if not isinstance(entry, dict) or not isinstance(entry.get("hash"), str) or \
                    not HASH_RE.match(entry["hash"]):
                raise invalid(f"Manifest entry {path!r} needs a `hash` of 32 lowercase hexadecimal characters.")
            size = entry.get("size")
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise invalid(f"Manifest entry {path!r} needs a non-negative integer `size`.")
            if size > MAX_ASSET_SIZE:
                raise invalid(f"Asset {path!r} is {size} bytes; files may be at most 25 MiB "
                              f"({MAX_ASSET_SIZE} bytes).", 10196)  # [G]
        sizes = {e["hash"]: e["size"] for e in manifest.values()}
        known = self.store.known_hashes(self.asset_account(account), sizes)
        missing = [h for h in dict.fromkeys(e["hash"] for e in manifest.values()) if h not in known]
        session_id = uuid.uuid4().hex
        data = {"manifest": manifest, "missing": missing}
        self.store.db.execute("INSERT INTO workers_asset_sessions (id, account, script, data) VALUES (?,?,?,?)",
                              (session_id, account, name, json.dumps(data)))
        claims = {"account_id": account, "script_name": name, "session": session_id}
        if not missing:
            return {"jwt": self._jwt({**claims, "kind": "completion"}), "buckets": []}
        buckets, current, size = [], [], 0
        for h in sorted(missing, key=lambda h: -sizes[h]):
            if current and (size + sizes[h] > BUCKET_MAX_BYTES or len(current) >= BUCKET_MAX_FILES):
                buckets.append(current)
                current, size = [], 0
            current.append(h)
            size += sizes[h]
        buckets.append(current)
        return {"jwt": self._jwt({**claims, "kind": "upload"}), "buckets": buckets}

    def upload_claims(self, token):
        try:
            claims = jwtutil.decode(token, self.jwt_secret, self.clock())
        except ValueError as e:
            raise assets_jwt_error(str(e)) from None
        if claims.get("kind") != "upload":
            raise assets_jwt_error("invalid")
        return claims

    def upload(self, account, claims, parts, base64_flag):
        """Store a bucket. ``parts``: [(name, content type, bytes)]. Returns (status, result)."""
        if claims.get("account_id") != account:
            raise assets_jwt_error("invalid")
        session = self._session(claims["session"])
        if session is None:
            raise assets_jwt_error("invalid")
        if not base64_flag:
            raise invalid("Uploads must be base64 encoded: add `?base64=true` and encode every file.")  # [G]
        if not parts:
            raise invalid("The upload has no files (one multipart part per hash).")
        wanted = set(session["missing"])
        stored = []
        for name, ctype, data in parts:
            if name not in wanted:
                raise invalid(f"Hash {name!r} is not part of this upload session.")
            try:
                raw = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise invalid(f"File {name}: the part is not valid base64.") from None
            stored.append((name, raw, ctype))
        target = self.asset_account(account)
        for name, raw, ctype in stored:
            self.store.put_asset(target, name, raw, "" if ctype in (None, "", NULL_CONTENT_TYPE) else ctype)
        if self.store.known_hashes(target, session["missing"]) >= wanted:
            return 201, {"jwt": self._jwt({"account_id": account, "script_name": claims["script_name"],
                                           "session": claims["session"], "kind": "completion"})}
        return 202, {}

    def _completed_manifest(self, account, token):
        try:
            claims = jwtutil.decode(token, self.jwt_secret, self.clock())
        except ValueError as e:
            raise invalid(f"The assets completion token is {e}.", 10202) from None  # [G]
        if claims.get("kind") != "completion" or claims.get("account_id") != account:
            raise invalid("The assets token is not a completion token of this account.", 10202)
        session = self._session(claims["session"])
        if session is None:
            raise invalid("The assets completion token is unknown.", 10202)
        manifest = session["manifest"]
        known = self.store.known_hashes(self.asset_account(account), [e["hash"] for e in manifest.values()])
        for path, entry in manifest.items():
            if entry["hash"] not in known:
                raise invalid(f"Asset {path} ({entry['hash']}) was never uploaded.", 10202)
        return {path: entry["hash"] for path, entry in manifest.items()}

    # ------------------------------------------------------------------ versions
    def _new_version(self, account, name, parts, s):
        """A version from a script upload (``PUT .../scripts/{name}`` or ``POST .../versions``).
        ``parts``: {name: (content type, bytes)}."""
        if "metadata" not in parts:
            raise invalid("The upload needs a `metadata` part (multipart/form-data).")
        try:
            meta = parse_json(parts["metadata"][1])
        except ValueError:
            raise invalid("The `metadata` part is not valid JSON.") from None
        if not isinstance(meta, dict):
            raise invalid("The `metadata` part must be a JSON object.")
        previous = self.current_version(s) if s else None
        main = meta.get("main_module")
        if meta.get("body_part") is not None:
            raise invalid("Service-worker scripts (`body_part`) are not emulated; upload ES modules.")
        modules = []
        for part, (ctype, data) in parts.items():
            if part == "metadata":
                continue
            kind = MODULE_KINDS.get((ctype or "").split(";")[0].strip().lower())
            if kind is None:
                if (ctype or "").startswith("application/source-map"):
                    continue
                raise invalid(f"Part {part!r} has an unsupported content type {ctype!r}.")
            modules.append({"name": part, "kind": kind, "blob": self.store.put_blob(data)})
        if main is not None:
            if not isinstance(main, str) or not any(m["name"] == main for m in modules):
                raise invalid(f"No such module {main!r}: `main_module` must name one of the uploaded parts.")
            if next(m for m in modules if m["name"] == main)["kind"] not in ("esModule", "commonJsModule"):
                raise invalid(f"The main module {main!r} is not JavaScript.")
            modules.sort(key=lambda m: m["name"] != main)
        elif modules:
            raise invalid("`metadata.main_module` is required when modules are uploaded.")
        assets = None
        if isinstance(meta.get("assets"), dict):
            a = meta["assets"]
            cfg = a.get("config") or {}
            if not isinstance(cfg, dict):
                raise invalid("`assets.config` must be an object.")
            if cfg.get("html_handling") not in (None, *HTML_HANDLING):
                raise invalid(f"assets.config.html_handling must be one of {', '.join(HTML_HANDLING)}.")
            if cfg.get("not_found_handling") not in (None, *NOT_FOUND_HANDLING):
                raise invalid(f"assets.config.not_found_handling must be one of {', '.join(NOT_FOUND_HANDLING)}.")
            problem = validate_run_worker_first(cfg.get("run_worker_first"))
            if problem:
                raise invalid(problem)
            if cfg.get("run_worker_first") not in (None, False) and main is None:
                raise invalid("run_worker_first needs a Worker script (`main_module`).")
            for key in ("_headers", "_redirects"):
                if cfg.get(key) is not None and not isinstance(cfg[key], str):
                    raise invalid(f"assets.config.{key} must be a string.")
            if not isinstance(a.get("jwt"), str):
                raise invalid("`assets.jwt` (the completion token) is required.")
            assets = {"manifest": self._completed_manifest(account, a["jwt"]),
                      "config": {k: v for k, v in cfg.items() if v is not None}}
        elif meta.get("keep_assets") is True:
            assets = (previous or {}).get("assets")
        if main is None and assets is None:
            raise invalid("A Worker needs a `main_module` or static assets (`assets.jwt`).")
        bindings = self._bindings(meta.get("bindings") or [], previous, meta.get("keep_bindings") or [])
        if any(b["type"] == "assets" for b in bindings) and main is None:
            raise invalid("An assets binding needs a Worker script (`main_module`).")
        if any(b["type"] == "assets" for b in bindings) and assets is None:
            raise invalid("An assets binding needs static assets (`assets.jwt`).")
        now = self.clock()
        number = (s["versions"][0]["number"] + 1) if s and s["versions"] else 1
        date = meta.get("compatibility_date")
        if date is not None and (not isinstance(date, str) or not re.match(r"^\d{4}-\d{2}-\d{2}$", date)):
            raise invalid("compatibility_date must be a date (YYYY-MM-DD).")
        flags = meta.get("compatibility_flags") or []
        if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
            raise invalid("compatibility_flags must be a list of strings.")
        annotations = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
        return {"id": str(uuid.uuid4()), "number": number, "created_on": iso(now), "main_module": main,
                "modules": modules, "compatibility_date": date, "compatibility_flags": flags,
                "bindings": bindings, "assets": assets, "etag": secrets.token_hex(32),
                "annotations": {k: v for k, v in annotations.items() if v is not None}}

    @staticmethod
    def _bindings(given, previous, keep_types):
        if not isinstance(given, list) or not all(isinstance(b, dict) for b in given):
            raise invalid("`metadata.bindings` must be a list of objects.")
        prev = {b["name"]: b for b in (previous or {}).get("bindings", [])}
        out, names = [], set()
        for b in given:
            name, kind = b.get("name"), b.get("type")
            if not isinstance(name, str) or not name or not isinstance(kind, str):
                raise invalid("Every binding needs a `name` and a `type`.")
            if name in names:
                raise invalid(f"Binding name {name!r} is used twice.", 10053)  # [G]
            names.add(name)
            if kind == "inherit":
                if name not in prev:
                    raise invalid(f"Binding {name!r} cannot be inherited: the previous version has none.", 10057)  # [E] code
                out.append(prev[name])
                continue
            if kind in TEXT_BINDINGS and not isinstance(b.get("text"), str):
                raise invalid(f"Binding {name!r} ({kind}) needs a string `text`.")
            out.append(dict(b))
        # Secrets stay with the Worker across uploads unless one of the same name is given (wrangler
        # 4.86 uploads a version without keep_bindings and its users' secrets persist; deleting a
        # secret is DELETE .../secrets/{name}) [I]; other kept types only with keep_bindings.
        keep = set(keep_types) | set(SECRET_TYPES)
        for b in prev.values():
            if b["type"] in keep and b["name"] not in names:
                out.append(b)
        return out

    @staticmethod
    def current_version(s):
        """The version the newest deployment gives most traffic (None before any deployment)."""
        if not s or not s["deployments"]:
            return None
        top = max(s["deployments"][0]["versions"], key=lambda v: v["percentage"])
        return next((v for v in s["versions"] if v["id"] == top["version_id"]), None)

    def find_version(self, s, version_id):
        for v in s["versions"]:
            if v["id"] == version_id:
                return v
        raise version_not_found()

    def _deploy(self, s, versions, annotations=None, source="api"):
        d = {"id": str(uuid.uuid4()), "source": source, "strategy": "percentage",
             "author_email": AUTHOR_EMAIL, "created_on": iso(self.clock()),
             "annotations": {k: v for k, v in (annotations or {}).items() if v is not None},
             "versions": versions}
        s["deployments"].insert(0, d)
        s["modified_on"] = d["created_on"]
        return d

    def _empty_script(self, account, name):
        now = iso(self.clock())
        return {"account": account, "name": name, "id": name, "tag": uuid.uuid4().hex, "created_on": now,
                "modified_on": now, "versions": [], "deployments": [],
                "settings": {"logpush": False, "tags": [], "tail_consumers": [], "observability": {"enabled": False}},
                "subdomain": {"enabled": False, "previews_enabled": False}}

    def put_script(self, account, name, parts):
        if not SCRIPT_NAME_RE.match(name):
            raise invalid(f"Invalid Worker name {name!r}.", 10016)  # [G]
        s = self.find(account, name) or self._empty_script(account, name)
        v = self._new_version(account, name, parts, s)
        v["annotations"].setdefault("workers/triggered_by", "upload")
        s["versions"].insert(0, v)
        self._deploy(s, [{"version_id": v["id"], "percentage": 100}])
        self._save(s)
        return self.render_script(s, v)

    def upload_version(self, account, name, parts):
        s = self.get(account, name)   # versions upload needs an existing Worker [G]
        v = self._new_version(account, name, parts, s)
        v["annotations"].setdefault("workers/triggered_by", "upload")
        s["versions"].insert(0, v)
        self._save(s)
        return self.render_version(v)

    def create_deployment(self, account, name, body):
        s = self.get(account, name)
        if not isinstance(body, dict) or body.get("strategy") != "percentage":
            raise invalid("`strategy` must be \"percentage\".")
        versions = body.get("versions")
        if not isinstance(versions, list) or not 1 <= len(versions) <= 2:
            raise invalid("`versions` must list one or two {version_id, percentage}.")
        out = []
        for item in versions:
            if not isinstance(item, dict) or not isinstance(item.get("version_id"), str):
                raise invalid("Every entry of `versions` needs a `version_id`.")
            pct = item.get("percentage")
            if isinstance(pct, bool) or not isinstance(pct, (int, float)) or not 0 < pct <= 100:
                raise invalid("`percentage` must be a number above 0 and at most 100.")
            self.find_version(s, item["version_id"])
            out.append({"version_id": item["version_id"], "percentage": pct})
        if abs(sum(i["percentage"] for i in out) - 100) > 1e-9:
            raise invalid("The percentages of a deployment must add up to 100.", 10183)  # [G]
        if len({i["version_id"] for i in out}) != len(out):
            raise invalid("A version may appear only once in a deployment.")
        ann = body.get("annotations") if isinstance(body.get("annotations"), dict) else {}
        d = self._deploy(s, out, ann)
        self._save(s)
        return d

    def delete_script(self, account, name):
        self.get(account, name)
        self.store.db.execute("DELETE FROM workers_scripts WHERE account=? AND name=?", (account, name))

    # ------------------------------------------------------------------ secrets
    def _with_bindings(self, s, bindings, trigger):
        """A new version of the current one with ``bindings``, deployed at 100% (as Cloudflare does
        for secret changes: developers.cloudflare.com/workers/configuration/secrets/)."""
        cur = self.current_version(s)
        if cur is None:
            raise invalid("The Worker has no deployed version to change.")
        v = dict(cur, id=str(uuid.uuid4()), number=s["versions"][0]["number"] + 1, created_on=iso(self.clock()),
                 bindings=bindings, annotations={"workers/triggered_by": trigger}, etag=secrets.token_hex(32))
        s["versions"].insert(0, v)
        self._deploy(s, [{"version_id": v["id"], "percentage": 100}])
        self._save(s)
        return v

    def put_secret(self, account, name, body):
        s = self.get(account, name)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"] or \
                not isinstance(body.get("text"), str):
            raise invalid("The request body must be {\"name\", \"text\", \"type\": \"secret_text\"}.")
        if body.get("type", "secret_text") != "secret_text":
            raise invalid("Only `secret_text` secrets are emulated.")
        cur = self.current_version(s)
        if cur is None:
            raise invalid("The Worker has no deployed version to change.")
        bindings = [b for b in cur["bindings"] if b["name"] != body["name"]]
        bindings.append({"name": body["name"], "type": "secret_text", "text": body["text"]})
        self._with_bindings(s, bindings, "secret")
        return {"name": body["name"], "type": "secret_text"}

    def list_secrets(self, account, name):
        cur = self.current_version(self.get(account, name))
        return [{"name": b["name"], "type": b["type"]} for b in (cur or {}).get("bindings", [])
                if b["type"] == "secret_text"]

    def get_secret(self, account, name, secret):
        for item in self.list_secrets(account, name):
            if item["name"] == secret:
                return item
        raise secret_not_found()

    def delete_secret(self, account, name, secret):
        s = self.get(account, name)
        self.get_secret(account, name, secret)
        cur = self.current_version(s)
        self._with_bindings(s, [b for b in cur["bindings"] if b["name"] != secret], "secret")

    # ------------------------------------------------------------------ settings
    def get_settings(self, account, name):
        s = self.get(account, name)
        cur = self.current_version(s) or {}
        return {"bindings": [self.public_binding(b) for b in cur.get("bindings", [])],
                "compatibility_date": cur.get("compatibility_date"),
                "compatibility_flags": cur.get("compatibility_flags", []),
                "placement": {}, "usage_model": "standard", "limits": {}, **s["settings"]}

    def patch_settings(self, account, name, settings):
        """PATCH .../settings: versioned settings (bindings, compatibility) make a new deployed
        version; the others (logpush, tags, tail_consumers, observability) are the script's."""
        s = self.get(account, name)
        if not isinstance(settings, dict):
            raise invalid("The `settings` part must be a JSON object.")
        self._patch_plain(s, settings)
        versioned = {k: settings[k] for k in ("bindings", "compatibility_date", "compatibility_flags") if k in settings}
        if versioned:
            cur = self.current_version(s)
            if cur is None:
                raise invalid("The Worker has no deployed version to change.")
            bindings = cur["bindings"]
            if "bindings" in versioned:
                bindings = self._bindings(versioned["bindings"], cur, [])
            v = self._with_bindings(s, bindings, "version_settings")  # saves
            for key in ("compatibility_date", "compatibility_flags"):
                if key in versioned:
                    v[key] = versioned[key]
        self._save(s)
        return self.get_settings(account, name)

    def patch_script_settings(self, account, name, body):
        s = self.get(account, name)
        if not isinstance(body, dict):
            raise invalid("The request body must be a JSON object.")
        self._patch_plain(s, body)
        self._save(s)
        return dict(s["settings"])

    @staticmethod
    def _patch_plain(s, values):
        """Keys given are replaced; ``null`` empties a list and leaves ``logpush``/``observability``."""
        for key in ("logpush", "tags", "tail_consumers", "observability", "streaming_tail_consumers"):
            if key not in values:
                continue
            if values[key] is not None:
                s["settings"][key] = values[key]
            elif key not in ("logpush", "observability"):
                s["settings"][key] = []

    # ------------------------------------------------------------------ workers.dev toggle
    def get_script_subdomain(self, account, name):
        return dict(self.get(account, name)["subdomain"])

    def set_script_subdomain(self, account, name, body):
        s = self.get(account, name)
        if not isinstance(body, dict) or not isinstance(body.get("enabled"), bool):
            raise invalid("The request body must be {\"enabled\": true|false[, \"previews_enabled\": ...]}.")
        if "previews_enabled" in body and not isinstance(body["previews_enabled"], bool):
            raise invalid("`previews_enabled` must be true or false.")
        s["subdomain"] = {"enabled": body["enabled"],
                          "previews_enabled": body.get("previews_enabled", s["subdomain"]["previews_enabled"])}
        self._save(s)
        return dict(s["subdomain"])

    # ------------------------------------------------------------------ rendering
    @staticmethod
    def public_binding(b):
        if b["type"] == "secret_text":
            return {"name": b["name"], "type": "secret_text"}
        return dict(b)

    def render_version(self, v):
        handlers = ["fetch"] if v["main_module"] else []
        return {"id": v["id"], "number": v["number"],
                "metadata": {"author_email": AUTHOR_EMAIL, "author_id": "emulator", "created_on": v["created_on"],
                             "modified_on": v["created_on"], "source": "api", "hasPreview": False},
                "annotations": v["annotations"],
                "resources": {"bindings": [self.public_binding(b) for b in v["bindings"]],
                              "script": {"etag": v["etag"], "handlers": handlers, "last_deployed_from": "api"},
                              "script_runtime": {"compatibility_date": v["compatibility_date"],
                                                 "compatibility_flags": v["compatibility_flags"],
                                                 "usage_model": "standard", "limits": {}}},
                "startup_time_ms": 1}

    def render_script(self, s, v=None):
        v = v or self.current_version(s) or {}
        return {"id": s["name"], "tag": s["tag"], "etag": v.get("etag"), "handlers": ["fetch"] if v.get("main_module") else [],
                "created_on": s["created_on"], "modified_on": s["modified_on"],
                "compatibility_date": v.get("compatibility_date"), "compatibility_flags": v.get("compatibility_flags", []),
                "usage_model": "standard", "has_assets": bool(v.get("assets")), "has_modules": bool(v.get("modules")),
                "last_deployed_from": "api", "logpush": s["settings"]["logpush"],
                "tail_consumers": s["settings"]["tail_consumers"] or None, "placement_mode": None,
                "deployment_id": v.get("id"), "startup_time_ms": 1}

    def service(self, account, name):
        """GET .../workers/services/{name}: the service wrangler reads the script's tag from before a
        deploy (workers-sdk deploy-helpers ``validate-worker-props.ts``); an unknown one answers
        10090, which wrangler takes for "not deployed yet" (``worker-not-found-error.ts``)."""
        s = self.find(account, name)
        if s is None:
            raise APIError(404, 10090, "This Worker does not exist on your account.")  # code [E], text [G]
        script = self.render_script(s)
        script.update({"tags": s["settings"]["tags"] or None})
        return {"id": name, "default_environment": {"environment": "production", "created_on": s["created_on"],
                                                    "modified_on": s["modified_on"], "script": script},
                "created_on": s["created_on"], "modified_on": s["modified_on"]}

    def worker(self, account, name):
        """GET .../workers/workers/{name} (the API's newer "Workers" resource; wrangler >= 4.1xx
        reads the workers.dev toggle from its ``subdomain``): the Worker's non-versioned state."""
        s = self.get(account, name)
        return {"id": s["tag"], "name": name, "created_on": s["created_on"], "updated_on": s["modified_on"],
                "logpush": s["settings"]["logpush"], "observability": s["settings"]["observability"],
                "subdomain": dict(s["subdomain"]), "tags": s["settings"]["tags"],
                "tail_consumers": s["settings"]["tail_consumers"]}

    def script_content(self, s):
        """GET .../scripts/{name}: the current version's modules as multipart/form-data (the raw
        content, as the API answers), or an empty body for an assets-only Worker."""
        v = self.current_version(s) or {}
        boundary = "----cfpages-emulator-" + secrets.token_hex(8)
        kinds = {"esModule": "application/javascript+module", "commonJsModule": "application/javascript",
                 "wasm": "application/wasm", "text": "text/plain", "data": "application/octet-stream",
                 "json": "application/json"}
        out = b""
        for m in v.get("modules", []):
            out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{m['name']}\"; filename=\"{m['name']}\"\r\n"
                    f"Content-Type: {kinds[m['kind']]}\r\n\r\n").encode() + (self.store.get_blob(m["blob"]) or b"") + b"\r\n"
        out += f"--{boundary}--\r\n".encode()
        return out, f"multipart/form-data; boundary={boundary}"
