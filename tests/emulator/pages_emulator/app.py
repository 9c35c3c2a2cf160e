"""HTTP layer: routing, auth, faults, request log, introspection and site serving (aiohttp)."""
from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import json
import random
import re
import secrets
import sys
import time
import traceback
import uuid
from urllib.parse import unquote

from aiohttp import web

from . import __version__, cache, errors, jwtutil, ratelimit, serving, workers_assets
from .link import BodyTooLarge, Link
from .backdate import BackdateError, backdate
from .branch_heads import BranchHeadError, set_branch_head
from .deployhooks import HOOK_PATH, DeployHooks
from .errors import APIError
from .model import SPECIAL_FILES, Config, Credentials, Model
from .store import Store
from .util import parse_json
from .workers import Workers
from .zones import ZoneError, Zones
from . import workers_scripts
from .workers_scripts import WorkersScripts

NO_CONTENT_TYPE = "cfpages_no_content_type"   # response state: send no Content-Type at all
WK_MULTIPART = ("wk_put_script", "wk_upload_version", "wk_patch_settings", "wk_assets_upload")

API_PREFIX = "/client/v4"
FAULT_KINDS = ("429", "500", "502", "503", "524", "drop")
JSON_HEADERS = {"Content-Type": "application/json"}
# Log lines per page without `size` [G: the real default is unknown; small so a client that
# does not ask for the whole log sees it cut]
LOG_PAGE_DEFAULT = 5
CLIENT_MAX_SIZE = 512 * 1024 * 1024  # the largest request body read

_P = r"(?P<project>[^/]+)"
_A = r"/accounts/(?P<account>[^/]+)/pages/projects"
_D = r"(?P<deployment>[^/]+)"
_W = r"/accounts/(?P<account>[^/]+)/workers"
_S = r"(?P<script>[^/]+)"
ROUTES = [
    (_A, {"GET": "list_projects", "POST": "create_project"}),
    (_A + "/" + _P, {"GET": "get_project", "PATCH": "patch_project", "DELETE": "delete_project"}),
    (_A + "/" + _P + "/source", {"POST": "connect_source", "DELETE": "disconnect_source"}),
    (_A + "/" + _P + "/purge_build_cache", {"POST": "purge_build_cache"}),
    (_A + "/" + _P + "/upload-token", {"GET": "upload_token"}),
    (_A + "/" + _P + "/deployments", {"GET": "list_deployments", "POST": "create_deployment"}),
    (_A + "/" + _P + "/deployments/" + _D, {"GET": "get_deployment", "DELETE": "delete_deployment"}),
    (_A + "/" + _P + "/deployments/" + _D + "/retry", {"POST": "retry_deployment"}),
    (_A + "/" + _P + "/deployments/" + _D + "/rollback", {"POST": "rollback_deployment"}),
    (_A + "/" + _P + "/deployments/" + _D + "/history/logs", {"GET": "deployment_logs"}),
    (_A + "/" + _P + "/domains", {"GET": "list_domains", "POST": "add_domain"}),
    (_A + "/" + _P + "/domains/(?P<domain>[^/]+)",
     {"GET": "get_domain", "PATCH": "retry_domain", "DELETE": "delete_domain"}),
    ("/pages/assets/check-missing", {"POST": "assets_check_missing"}),
    ("/pages/assets/upload", {"POST": "assets_upload"}),
    ("/pages/assets/upsert-hashes", {"POST": "assets_upsert_hashes"}),
    (HOOK_PATH + "(?P<hook>[^/]+)", {"POST": "deploy_hook"}),
    ("/zones", {"GET": "list_zones"}),
    # Workers scripts with static assets (workers_scripts.py)
    (_W + "/subdomain", {"GET": "wk_get_subdomain", "PUT": "wk_put_subdomain"}),
    (_W + "/scripts", {"GET": "wk_list_scripts"}),
    (_W + "/services/" + _S, {"GET": "wk_get_service"}),
    (_W + "/workers/" + _S, {"GET": "wk_get_worker"}),
    (_W + "/scripts/" + _S, {"GET": "wk_get_script", "PUT": "wk_put_script", "DELETE": "wk_delete_script"}),
    (_W + "/scripts/" + _S + "/assets-upload-session", {"POST": "wk_upload_session"}),
    (_W + "/assets/upload", {"POST": "wk_assets_upload"}),
    (_W + "/scripts/" + _S + "/settings", {"GET": "wk_get_settings", "PATCH": "wk_patch_settings"}),
    (_W + "/scripts/" + _S + "/script-settings", {"GET": "wk_get_script_settings",
                                                  "PATCH": "wk_patch_script_settings"}),
    (_W + "/scripts/" + _S + "/versions", {"GET": "wk_list_versions", "POST": "wk_upload_version"}),
    (_W + "/scripts/" + _S + "/versions/(?P<version>[^/]+)", {"GET": "wk_get_version"}),
    (_W + "/scripts/" + _S + "/deployments", {"GET": "wk_list_deployments", "POST": "wk_create_deployment"}),
    (_W + "/scripts/" + _S + "/deployments/(?P<deployment>[^/]+)", {"GET": "wk_get_deployment"}),
    (_W + "/scripts/" + _S + "/secrets", {"GET": "wk_list_secrets", "PUT": "wk_put_secret"}),
    (_W + "/scripts/" + _S + "/secrets/(?P<secret>[^/]+)", {"GET": "wk_get_secret", "DELETE": "wk_delete_secret"}),
    (_W + "/scripts/" + _S + "/subdomain", {"GET": "wk_get_script_subdomain", "POST": "wk_post_script_subdomain"}),
]
ROUTES = [(re.compile("^" + rx + "/?$"), methods) for rx, methods in ROUTES]
TOKEN_RE = re.compile(r"^Bearer ([A-Za-z0-9._~+/=-]+)$")
GLOBAL_KEY_RE = re.compile(r"^[0-9a-f]{37}$")
ACCOUNT_ID_RE = re.compile(r"[0-9a-fA-F]{32}")  # [V] anything else is a route miss (400 7003 + 7000)


class DroppedConnection(Exception):
    pass


class RequestTimedOut(Exception):
    pass


def timeout_page() -> web.Response:
    """Cloudflare's answer when the origin took too long (HTTP 524)."""
    page = ("<!DOCTYPE html>\n<html><head><title>api.cloudflare.com | 524: A timeout occurred"
            "</title></head><body><h1>A timeout occurred</h1><p>Error code 524</p></body></html>\n")
    return web.Response(text=page, status=524, content_type="text/html")


def envelope(result, result_info=None) -> dict:
    body = {"result": result, "success": True, "errors": [], "messages": []}
    if result_info is not None:
        body["result_info"] = result_info
    return body


def json_response(body, status=200, headers=None) -> web.Response:
    h = dict(JSON_HEADERS)
    h.update(headers or {})
    return web.Response(body=json.dumps(body).encode(), status=status, headers=h)


def paginate(request, items, default, cap):
    def _int(name, dflt):
        raw = request.query.get(name)
        if raw is None or raw == "":
            return dflt
        try:
            return int(raw)
        except ValueError:
            raise errors.list_options() from None

    page, per_page = _int("page", 1), _int("per_page", default)
    if page < 1 or per_page < 1 or per_page > cap:
        raise errors.list_options()
    total = len(items)
    chunk = items[(page - 1) * per_page: page * per_page]
    info = {"page": page, "per_page": per_page, "count": len(chunk), "total_count": total,
            "total_pages": -(-total // per_page)}
    return chunk, info


class Emulator:
    def __init__(self, data_dir, config: Config, creds: Credentials, clock=time.time, prefix=API_PREFIX,
                 workerd=None):
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.store = Store(data_dir)
        self.startup_config = copy.deepcopy(config)
        self.config = config
        self.creds = creds
        self.clock = clock
        self.model = Model(self.store, self.config, clock)
        secret = self.store.meta_get("jwt_secret")
        if not secret:
            secret = secrets.token_hex(32)
            self.store.meta_set("jwt_secret", secret)
        self.jwt_secret = secret.encode()
        self.request_log: list[dict] = []
        self.rng = random.Random(config.fault_seed)
        self.limiter = ratelimit.RateLimiter(ratelimit.parse_spec(config.rate_limit))
        self.base_url = None
        self.workers = Workers(self.store, clock, data_dir, workerd)
        self.cache = cache.CacheStore(clock)      # the Cache API of deployed workers, in memory
        self.deploy_hooks = DeployHooks(self.store)
        self.zones = Zones(self.store, clock)
        self.workers_scripts = WorkersScripts(self.store, self.config, clock, self.jwt_secret)
        self.link = Link(config.bandwidth)  # the uplink asset uploads come through (--bandwidth)
        self.started = time.monotonic()  # the request log's "at" counts from here

    # ------------------------------------------------------------------ config
    def apply_config(self, values: dict) -> dict:
        allowed = {"fault_rate": float, "fault_seed": int, "jwt_ttl": float, "build_seconds": float,
                   "domain_seconds": float, "max_file_count": int, "project_delete_limit": int,
                   "upload_seconds": float, "project_create_cooldown": bool, "bandwidth": float,
                   "request_timeout": float, "workers_jwt_ttl": float}
        new = {}
        values = dict(values)
        set_limit = "rate_limit" in values
        limit = ratelimit.parse_spec(values.pop("rate_limit", None))
        for k, v in values.items():
            if k not in allowed:
                raise ValueError(f"unknown config key {k!r}")
            if v is None and k == "fault_seed":
                new[k] = None
                continue
            if allowed[k] is bool:
                if not isinstance(v, bool):
                    raise ValueError(f"{k} must be true or false")
                new[k] = v
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"{k} must be a number")
            new[k] = allowed[k](v)
        if "fault_rate" in new and not 0.0 <= new["fault_rate"] <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1")
        for k in ("bandwidth", "request_timeout"):
            if k in new and new[k] < 0:
                raise ValueError(f"{k} must be 0 (none) or more")
        for k, v in new.items():
            setattr(self.config, k, v)
        if set_limit:
            self.config.rate_limit = ratelimit.format_spec(limit)
            self.limiter.configure(limit)
        if "fault_seed" in new:
            self.rng = random.Random(self.config.fault_seed)
        self.link.rate = self.config.bandwidth
        return self.config.to_dict()

    def reset(self):
        self.workers.reset()
        self.cache.wipe()
        self.store.wipe()
        self.deploy_hooks.reset()
        self.zones.reset()
        self.workers_scripts.reset()
        self.request_log.clear()
        for k, v in self.startup_config.to_dict().items():
            setattr(self.config, k, v)
        self.rng = random.Random(self.config.fault_seed)
        self.limiter.configure(ratelimit.parse_spec(self.config.rate_limit))
        self.link = Link(self.config.bandwidth)

    # ------------------------------------------------------------------ entry point
    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = unquote(request.raw_path.split("?", 1)[0])
        target = self.workers.service_target(request)
        if target is not None:  # a worker's env.ASSETS.fetch(), a KV / D1 call, its Cache API
            kind, ident = target
            if kind == "assets":
                return self.serve_assets(request, ident)
            if kind == "wassets":   # a Worker's assets binding (env.<binding>.fetch)
                return self.serve_worker_assets(request, *ident.split("/", 2))
            if kind == "cache":
                return await self.serve_cache(request, ident)
            return await self.workers.bindings.handle(kind, ident, request)
        host = (request.host or "").strip().lower().rsplit(":", 1)[0].rstrip(".")
        if host.endswith(".workers.dev"):
            return await self.serve_worker_site(request, host)
        site = self.resolve_site(request.host)
        if site is not None:
            return await self.serve_site(request, site, path)
        if path.startswith("/__emulator/"):
            return await self.introspect(request, path)
        entry = {"method": request.method, "path": path,
                 "query": {k: v for k, v in request.query.items()}, "status": None}
        self.request_log.append(entry)
        # Counted before routing, auth and any state change, like the fault injection below.
        allowed, limit_headers = self.limiter.check(ratelimit.credential_key(request.headers, path), self.clock())
        if not allowed:
            entry["status"] = 429
            return json_response(APIError(429, 971, errors.MSG_RATE_LIMITED).body(), 429, limit_headers)
        started = time.monotonic()
        entry["at"] = round(started - self.started, 3)
        try:
            resp = await self.within_timeout(self.handle_api(request, path, entry))
        except RequestTimedOut:
            resp = timeout_page()
            resp.force_close()  # the body may still be arriving: drop the connection with it
            entry["timed_out"] = True
        except web.HTTPException:
            entry["seconds"] = round(time.monotonic() - started, 3)
            raise
        except DroppedConnection:
            entry["status"] = 0
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPInternalServerError() from None  # never reaches the (closed) socket
        except Exception:  # an emulator bug: answer like Cloudflare's unknown error, keep serving
            traceback.print_exc(file=sys.stderr)
            resp = json_response(APIError(500, 8000000, errors.MSG_UNKNOWN).body(), 500)
        resp.headers.update(limit_headers)
        entry["status"] = resp.status
        entry["seconds"] = round(time.monotonic() - started, 3)
        return resp

    async def within_timeout(self, answer):
        """``answer``, or RequestTimedOut when it takes longer than ``request_timeout`` (0: no limit)."""
        timeout = self.config.request_timeout
        if timeout <= 0:
            return await answer
        try:
            return await asyncio.wait_for(answer, timeout)
        except asyncio.TimeoutError:
            raise RequestTimedOut() from None

    # ------------------------------------------------------------------ faults
    def fault(self):
        if self.config.fault_rate <= 0 or self.rng.random() >= self.config.fault_rate:
            return None
        kind = self.rng.choice(FAULT_KINDS)
        if kind == "drop":
            raise DroppedConnection()
        if kind == "429":
            return json_response(APIError(429, 971, errors.MSG_RATE_LIMITED).body(), 429,
                                 {"Retry-After": "1"})
        if kind == "500":
            return json_response(APIError(500, 8000000, errors.MSG_UNKNOWN).body(), 500)
        if kind == "503":
            return json_response(APIError(503, 8000000, errors.MSG_UNKNOWN).body(), 503)
        if kind == "502":
            page = ("<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n"
                    "<center><h1>502 Bad Gateway</h1></center>\n<hr><center>cloudflare</center>\n"
                    "</body>\n</html>\n")
            return web.Response(text=page, status=502, content_type="text/html")
        return timeout_page()

    # ------------------------------------------------------------------ API
    async def handle_api(self, request, path, entry) -> web.Response:
        prefix = self.prefix
        if not path.startswith(prefix + "/") and path != prefix:
            return json_response(errors.no_route(path).body(), 404)
        faulted = self.fault()
        if faulted is not None:
            return faulted
        sub = path[len(prefix):]
        m = methods = None
        for rx, route_methods in ROUTES:
            m = rx.match(sub)
            if m:
                methods = route_methods
                break
        if m is None:
            return json_response(errors.no_route(path).body(), 404)
        if "account" in m.groupdict() and not ACCOUNT_ID_RE.fullmatch(m.group("account")):
            return json_response(errors.no_route(path, 400).body(), 400)
        name = methods.get(request.method)
        if name is None:
            return json_response(errors.method_not_allowed().body(), 405)
        params = m.groupdict()
        try:
            if name.startswith("assets_"):
                params["claims"] = self.auth_jwt(request)
            elif name == "wk_assets_upload":  # the upload session's JWT is its only credential
                m_tok = TOKEN_RE.match((request.headers.get("Authorization") or "").strip())
                if not m_tok:
                    raise workers_scripts.assets_jwt_error("missing")
                params["claims"] = self.workers_scripts.upload_claims(m_tok.group(1))
            elif name == "deploy_hook":  # the hook's secret id is its only credential
                pass
            else:
                account = self.auth_api(request)
                if "account" not in params:  # /zones: what the credential's account holds
                    params["caller"] = account
                elif params["account"] != account:
                    raise errors.auth_error()
            body = await self.read_body(request, name, entry)
            if name == "assets_upload" and self.config.upload_seconds > 0:
                await asyncio.sleep(self.config.upload_seconds)  # a slow link, for interruption tests
            handler = getattr(self, "api_" + name)
            self.store.begin()
            try:
                resp = handler(request, body, **params)
                self.store.commit()
            except BaseException:
                self.store.rollback()
                raise
            return resp
        except APIError as e:
            return json_response(e.body(), e.status, e.headers)

    def auth_api(self, request) -> str:
        authz = request.headers.get("Authorization")
        email = request.headers.get("X-Auth-Email")
        key = request.headers.get("X-Auth-Key")
        if authz is None and (email is not None or key is not None):
            if key is None or not GLOBAL_KEY_RE.match(key.strip()):
                raise errors.bad_headers(6103, "Invalid format for X-Auth-Key header")
            if email is None or "@" not in email:
                raise errors.bad_headers(6102, "Invalid format for X-Auth-Email header")
            account = self.creds.keys.get((email.strip().lower(), key.strip()))
            if account is None:
                raise errors.auth_error()
            return account
        m = TOKEN_RE.match((authz or "").strip())
        if not m:
            raise errors.bad_headers(6111, "Invalid format for Authorization header")
        account = self.creds.tokens.get(m.group(1))
        if account is None:
            raise errors.auth_error()
        return account

    def auth_jwt(self, request) -> dict:
        m = TOKEN_RE.match((request.headers.get("Authorization") or "").strip())
        if not m:
            raise errors.jwt_error("missing")
        try:
            return jwtutil.decode(m.group(1), self.jwt_secret, self.clock())
        except ValueError as e:
            raise errors.jwt_error(str(e)) from None

    async def read_body(self, request, name, entry):
        if name == "create_deployment":
            return await self.read_form(request)
        if name in WK_MULTIPART:
            parts = await self.read_parts(request)
            if name == "wk_assets_upload":
                entry["keys"] = [part_name for part_name, _, _ in parts]
            if name in ("wk_put_script", "wk_upload_version"):
                error = await self.workers.check_upload(parts)
                if error:   # Cloudflare refuses a script that fails at start-up, with the runtime's message
                    raise workers_scripts.invalid(error, 10021)
            return parts
        if request.method not in ("POST", "PATCH", "PUT") or name in ("purge_build_cache", "deploy_hook"):
            return None
        if name == "assets_upload":
            try:
                raw = await self.link.read_body(request, CLIENT_MAX_SIZE)
            except BodyTooLarge as e:
                raise web.HTTPRequestEntityTooLarge(max_size=CLIENT_MAX_SIZE,
                                                    actual_size=e.args[0]) from None
            entry["bytes"] = len(raw)
        else:
            raw = await request.read()
        if name == "assets_upload":
            decoded = await asyncio.get_running_loop().run_in_executor(None, self.decode_upload, raw)
            entry["keys"] = [key for key, _, _, _ in decoded]
            return decoded
        if not raw.strip():
            return None
        try:
            return parse_json(raw)
        except ValueError:
            raise errors.bad_request("Request body is not valid JSON.") from None

    async def read_form(self, request) -> dict:
        ctype = request.content_type
        fields: dict = {}
        if not request.can_read_body:
            return fields
        if ctype == "multipart/form-data":
            try:
                reader = await request.multipart()
                async for part in reader:
                    if part.name is None:
                        continue
                    data = bytes(await part.read())
                    if part.name in SPECIAL_FILES:
                        fields[part.name] = data
                    else:
                        fields[part.name] = data.decode("utf-8", "replace")
            except (ValueError, AssertionError, RuntimeError) as e:
                raise errors.bad_request(f"Malformed multipart/form-data body: {e}") from None
        elif ctype == "application/x-www-form-urlencoded":
            for k, v in (await request.post()).items():
                fields[k] = v if isinstance(v, str) else v.file.read().decode("utf-8", "replace")
        elif (await request.read()).strip():
            raise errors.bad_request("Request body must be multipart/form-data.")
        return fields

    async def read_parts(self, request) -> list:
        """A multipart/form-data body as [(part name, content type, bytes)] (Workers uploads)."""
        if request.content_type != "multipart/form-data":
            raise workers_scripts.invalid("The request body must be multipart/form-data.")
        parts = []
        try:
            reader = await request.multipart()
            async for part in reader:
                if part.name is None:
                    continue
                ctype = part.headers.get("Content-Type")
                parts.append((part.name, ctype, bytes(await part.read())))
        except (ValueError, AssertionError, RuntimeError) as e:
            raise workers_scripts.invalid(f"Malformed multipart/form-data body: {e}") from None
        return parts

    # Workers scripts (workers_scripts.py)
    @staticmethod
    def _by_name(parts) -> dict:
        return {name: (ctype, data) for name, ctype, data in parts}

    def api_wk_get_subdomain(self, request, body, account):
        return json_response(envelope({"subdomain": self.workers_scripts.subdomain(account)}))

    def api_wk_put_subdomain(self, request, body, account):
        return json_response(envelope(self.workers_scripts.set_subdomain(account, body)))

    def api_wk_list_scripts(self, request, body, account):
        ws = self.workers_scripts
        return json_response(envelope([ws.render_script(s) for s in ws.scripts_of(account)]))

    def api_wk_get_service(self, request, body, account, script):
        return json_response(envelope(self.workers_scripts.service(account, script)))

    def api_wk_get_worker(self, request, body, account, script):
        return json_response(envelope(self.workers_scripts.worker(account, script)))

    def api_wk_get_script(self, request, body, account, script):
        data, ctype = self.workers_scripts.script_content(self.workers_scripts.get(account, script))
        return web.Response(body=data, headers={"Content-Type": ctype})

    def api_wk_put_script(self, request, body, account, script):
        return json_response(envelope(self.workers_scripts.put_script(account, script, self._by_name(body))))

    def api_wk_delete_script(self, request, body, account, script):
        self.workers_scripts.delete_script(account, script)
        return json_response(envelope(None))

    def api_wk_upload_session(self, request, body, account, script):
        return json_response(envelope(self.workers_scripts.upload_session(account, script, body)))

    def api_wk_assets_upload(self, request, body, account, claims):
        status, result = self.workers_scripts.upload(account, claims, body,
                                                     request.query.get("base64", "").lower() == "true")
        return json_response(envelope(result), status)

    def api_wk_get_settings(self, request, body, account, script):
        return json_response(envelope(self.workers_scripts.get_settings(account, script)))

    def api_wk_patch_settings(self, request, body, account, script):
        parts = self._by_name(body)
        if "settings" not in parts:
            raise workers_scripts.invalid("The request needs a `settings` part (multipart/form-data).")
        try:
            settings = parse_json(parts["settings"][1])
        except ValueError:
            raise workers_scripts.invalid("The `settings` part is not valid JSON.") from None
        return json_response(envelope(self.workers_scripts.patch_settings(account, script, settings)))

    def api_wk_get_script_settings(self, request, body, account, script):
        return json_response(envelope(dict(self.workers_scripts.get(account, script)["settings"])))

    def api_wk_patch_script_settings(self, request, body, account, script):
        return json_response(envelope(self.workers_scripts.patch_script_settings(account, script, body)))

    def api_wk_list_versions(self, request, body, account, script):
        ws = self.workers_scripts
        items = [ws.render_version(v) for v in ws.get(account, script)["versions"]]
        chunk, info = paginate(request, items, 10, 100)   # [G] page sizes
        return json_response(envelope({"items": chunk}, info))

    def api_wk_upload_version(self, request, body, account, script):
        return json_response(envelope(self.workers_scripts.upload_version(account, script, self._by_name(body))))

    def api_wk_get_version(self, request, body, account, script, version):
        ws = self.workers_scripts
        return json_response(envelope(ws.render_version(ws.find_version(ws.get(account, script), version))))

    def api_wk_list_deployments(self, request, body, account, script):
        return json_response(envelope({"deployments": self.workers_scripts.get(account, script)["deployments"]}))

    def api_wk_get_deployment(self, request, body, account, script, deployment):
        for d in self.workers_scripts.get(account, script)["deployments"]:
            if d["id"] == deployment:
                return json_response(envelope(d))
        raise workers_scripts.deployment_not_found()

    def api_wk_create_deployment(self, request, body, account, script):
        return json_response(envelope(self.workers_scripts.create_deployment(account, script, body)))

    def api_wk_list_secrets(self, request, body, account, script):
        return json_response(envelope(self.workers_scripts.list_secrets(account, script)))

    def api_wk_put_secret(self, request, body, account, script):
        return json_response(envelope(self.workers_scripts.put_secret(account, script, body)))

    def api_wk_get_secret(self, request, body, account, script, secret):
        return json_response(envelope(self.workers_scripts.get_secret(account, script, secret)))

    def api_wk_delete_secret(self, request, body, account, script, secret):
        self.workers_scripts.delete_secret(account, script, secret)
        return json_response(envelope(None))

    def api_wk_get_script_subdomain(self, request, body, account, script):
        return json_response(envelope(self.workers_scripts.get_script_subdomain(account, script)))

    def api_wk_post_script_subdomain(self, request, body, account, script):
        return json_response(envelope(self.workers_scripts.set_script_subdomain(account, script, body)))

    def _project_resp(self, p):
        return json_response(envelope(self.model.render_project(p)))

    # projects
    def api_list_projects(self, request, body, account):
        projects = self.model.list_projects(account)
        chunk, info = paginate(request, projects, 10, 10)
        return json_response(envelope([self.model.render_project(p) for p in chunk], info))

    def api_create_project(self, request, body, account):
        return self._project_resp(self.model.create_project(account, body))

    def api_get_project(self, request, body, account, project):
        return self._project_resp(self.model.get_project(account, project))

    def api_patch_project(self, request, body, account, project):
        return self._project_resp(self.model.patch_project(account, project, body or {}))

    def api_connect_source(self, request, body, account, project):
        return self._project_resp(self.model.connect_source(account, project, body))

    def api_disconnect_source(self, request, body, account, project):
        return self._project_resp(self.model.disconnect_source(account, project))

    def api_delete_project(self, request, body, account, project):
        self.model.delete_project(account, project)
        return json_response(envelope(None))

    def api_purge_build_cache(self, request, body, account, project):
        self.model.get_project(account, project)
        return json_response(envelope(None))

    def api_upload_token(self, request, body, account, project):
        p = self.model.get_project(account, project)
        now = self.clock()
        ttl = self.config.jwt_ttl
        if float(ttl).is_integer():  # NumericDates in whole seconds, exp = iat + ttl, like real JWTs
            iat = int(now)
            exp = iat + int(ttl)
        else:  # a fractional --jwt-ttl (tests of expiry) gives fractional claims
            iat, exp = round(now, 3), round(now + ttl, 3)
        claims = {
            "account_id": account,
            "project_id": p["id"],
            "project_name": p["name"],
            "max_file_count_allowed": self.config.max_file_count,
            "iat": iat,
            "exp": exp,
            "jti": str(uuid.uuid4()),
        }
        return json_response(envelope({"jwt": jwtutil.encode(claims, self.jwt_secret)}))

    # deployments
    def _deployment_resp(self, p, d):
        _, ctx = self.model.context(p)
        return json_response(envelope(self.model.render_deployment(p, d, ctx)))

    def api_list_deployments(self, request, body, account, project):
        p = self.model.get_project(account, project)
        env = request.query.get("env")
        if env not in (None, "", "production", "preview"):
            raise errors.list_options()
        deps, ctx = self.model.context(p)
        if env:
            deps = [d for d in deps if d["environment"] == env]
        chunk, info = paginate(request, deps, 25, 25)
        return json_response(envelope([self.model.render_deployment(p, d, ctx) for d in chunk], info))

    def api_create_deployment(self, request, body, account, project):
        d = self.model.create_deployment(account, project, body)
        self.workers.schedule_check(d)
        return self._deployment_resp(self.model.get_project(account, project), d)

    def api_get_deployment(self, request, body, account, project, deployment):
        p = self.model.get_project(account, project)
        return self._deployment_resp(p, self.model.find_deployment(p, deployment))

    def api_delete_deployment(self, request, body, account, project, deployment):
        force = request.query.get("force", "").lower() == "true"
        self.model.delete_deployment(account, project, deployment, force)
        return json_response(envelope(None))

    def api_retry_deployment(self, request, body, account, project, deployment):
        p, d = self.model.retry(account, project, deployment)
        self.workers.schedule_check(d)
        return self._deployment_resp(p, d)

    def api_rollback_deployment(self, request, body, account, project, deployment):
        return self._deployment_resp(*self.model.rollback(account, project, deployment))

    def api_deploy_hook(self, request, body, hook):
        d = self.deploy_hooks.trigger(hook, self.model)
        return json_response(envelope({"id": d["id"]}))

    def api_deployment_logs(self, request, body, account, project, deployment):
        try:
            size = int(request.query.get("size", LOG_PAGE_DEFAULT))
        except ValueError:
            raise errors.list_options() from None
        if size < 1:
            raise errors.list_options()
        return json_response(envelope(self.model.logs(account, project, deployment, size)))

    # domains
    def api_list_domains(self, request, body, account, project):
        p = self.model.get_project(account, project)
        doms = [self.model.render_domain(p, d) for d in self.store.list_domains(p["id"])]
        info = {"page": 1, "per_page": max(100, len(doms)), "count": len(doms),
                "total_count": len(doms), "total_pages": 1}
        return json_response(envelope(doms, info))

    def api_list_zones(self, request, body, caller):
        zones, info = self.zones.listing(request.query, caller)
        return json_response(envelope(zones, info))

    def api_add_domain(self, request, body, account, project):
        return json_response(envelope(self.model.render_domain(*self.model.add_domain(account, project, body))))

    def api_get_domain(self, request, body, account, project, domain):
        return json_response(envelope(self.model.render_domain(*self.model.get_domain(account, project, domain))))

    def api_retry_domain(self, request, body, account, project, domain):
        return json_response(envelope(self.model.render_domain(*self.model.retry_domain(account, project, domain))))

    def api_delete_domain(self, request, body, account, project, domain):
        self.model.delete_domain(account, project, domain)
        return json_response(envelope(None))

    # direct-upload assets (JWT)
    @staticmethod
    def _hashes(body) -> list:
        if not isinstance(body, dict) or not isinstance(body.get("hashes"), list) or not all(
                isinstance(h, str) for h in body["hashes"]):
            raise errors.bad_request("Request body must be {\"hashes\": [\"<hash>\", ...]}.")
        return body["hashes"]

    def api_assets_check_missing(self, request, body, claims):
        return json_response(envelope(self.model.check_missing(claims["account_id"], self._hashes(body))))

    def decode_upload(self, raw: bytes) -> list:
        """Parse an upload body and write its blobs (runs in a worker thread; no DB access).

        Returns [(key, blob digest, content type, size)]; raises APIError for a malformed body."""
        try:
            body = parse_json(raw)
        except ValueError:
            raise errors.bad_request("Request body is not valid JSON.") from None
        if not isinstance(body, list):
            raise errors.bad_request("Request body must be a JSON array of {key, value, metadata, base64}.")
        items = []
        for item in body:
            if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not isinstance(
                    item.get("value"), str):
                raise errors.bad_request("Every uploaded item needs a string `key` and `value`.")
            meta = item.get("metadata") or {}
            ctype = meta.get("contentType") if isinstance(meta, dict) else None
            items.append((item["key"], item["value"], bool(item.get("base64", False)),
                          ctype if isinstance(ctype, str) and ctype else "application/octet-stream"))
        out = []
        for key, value, is_b64, ctype in items:
            if is_b64:
                try:
                    data = base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    raise errors.bad_request(f"Item {key}: `value` is not valid base64.") from None
            else:
                data = value.encode("utf-8")
            out.append((key, self.store.put_blob(data), ctype, len(data)))
        return out

    def api_assets_upload(self, request, body, claims):
        for key, digest, ctype, size in body:
            self.store.put_asset_row(claims["account_id"], key, digest, ctype, size)
        return json_response(envelope(None))

    def api_assets_upsert_hashes(self, request, body, claims):
        self._hashes(body)
        return json_response(envelope(True))

    # ------------------------------------------------------------------ introspection
    async def introspect(self, request, path):
        if path == "/__emulator/health" and request.method == "GET":
            return json_response({"status": "ok", "version": __version__, "base_url": self.base_url,
                                  "workers": self.workers.runtime.describe()})
        if path == "/__emulator/workers" and request.method == "GET":
            return json_response(self.workers.introspect())
        if path == "/__emulator/requests" and request.method == "GET":
            return json_response(self.request_log)
        if path == "/__emulator/reset" and request.method == "POST":
            self.reset()
            return json_response({"status": "ok", "config": self.config.to_dict()})
        if path == "/__emulator/deploy_hooks" and request.method == "POST":
            try:
                hook_id = self.deploy_hooks.register(json.loads(await request.read() or b"{}"), self.model)
            except ValueError as e:
                return json_response({"error": str(e)}, 400)
            return json_response({"id": hook_id, "url": f"{self.base_url}{HOOK_PATH}{hook_id}"})
        if path == "/__emulator/config":
            if request.method == "GET":
                return json_response(self.config.to_dict())
            if request.method == "POST":
                try:
                    values = json.loads(await request.read() or b"{}")
                    if not isinstance(values, dict):
                        raise ValueError("body must be a JSON object")
                    return json_response(self.apply_config(values))
                except ValueError as e:
                    return json_response({"error": str(e)}, 400)
        if path == "/__emulator/backdate" and request.method == "POST":
            try:
                return json_response(backdate(self.store, json.loads(await request.read() or b"{}")))
            except BackdateError as e:
                return json_response({"error": str(e)}, e.status)
            except ValueError as e:
                return json_response({"error": str(e)}, 400)
        if path == "/__emulator/zones" and request.method == "POST":
            try:
                values = json.loads(await request.read() or b"{}")
                self.store.begin()
                try:
                    zone = self.zones.add(values)
                    self.store.commit()
                except BaseException:
                    self.store.rollback()
                    raise
                return json_response(zone)
            except ZoneError as e:
                return json_response({"error": str(e)}, e.status)
            except ValueError as e:
                return json_response({"error": str(e)}, 400)
        if path == "/__emulator/branch_head" and request.method == "POST":
            try:
                return json_response(set_branch_head(self.store, json.loads(await request.read() or b"{}")))
            except BranchHeadError as e:
                return json_response({"error": str(e)}, e.status)
            except ValueError as e:
                return json_response({"error": str(e)}, 400)
        return json_response({"error": "unknown emulator endpoint"}, 404)

    # ------------------------------------------------------------------ sites
    def resolve_site(self, host_header: str):
        """Return (project, deployment-or-None) for a deployed-site Host, else None."""
        host = (host_header or "").strip().lower()
        if host.startswith("["):
            return None
        host = host.rsplit(":", 1)[0] if ":" in host else host
        host = host.rstrip(".")
        if host.endswith(".pages.dev"):
            p = self.store.get_project_by_subdomain(host)
            if p:
                return p, "canonical"
            label, _, rest = host.partition(".")
            p = self.store.get_project_by_subdomain(rest)
            if not p:
                return "unknown", None
            deps, ctx = self.model.context(p)
            for d in deps:
                if d["short_id"] == label:
                    return p, d
            for d in deps:
                if self.model.alias_of(p, d, ctx) == label:
                    return p, d
            return "unknown", None
        dom = self.store.get_domain(host)
        if dom and self.model.domain_status(dom, self.clock()) == "active":
            p = self.store.get_project_by_id(dom["project_id"])
            if p:
                return p, "canonical"
        return None

    async def serve_site(self, request, site, path):
        p, d = site
        if p == "unknown":
            return web.Response(text="Not found: no Pages deployment at this host.\n", status=404)
        if d == "canonical":
            _, ctx = self.model.context(p)
            d = ctx["by_id"].get(ctx["canonical"])
            if d is None:
                return web.Response(text="Nothing is deployed to production yet.\n", status=404)
        if self.model.timeline(d, self.clock())["status"] != "success":
            return web.Response(text="This deployment is not live (still building or failed).\n",
                                status=404)
        if self.workers.routes_to_worker(d, path):
            return await self.workers.forward(request, d)
        resp = self.serve_static(request, d)
        if (d.get("worker_check") or {}).get("executed") is False:  # never pretend it ran
            resp.headers["X-Pages-Emulator-Worker"] = "not-executed"
        return resp

    def serve_assets(self, request, deployment_id):
        d = self.store.get_deployment(deployment_id)
        if d is None:
            return web.Response(text="Not found: the deployment no longer exists.\n", status=404)
        return self.serve_static(request, d)

    async def serve_cache(self, request, scope):
        """A worker's Cache API call, in workerd's cache protocol (see ``cache.py``)."""
        raw = request.raw_path
        url = raw if raw.startswith(("http://", "https://")) else f"https://{request.host}{raw}"
        key = (scope, request.headers.get(cache.NAMESPACE_HEADER), url)
        if request.method == "PUT":
            try:
                return web.Response(status=self.cache.put(key, await request.read()))
            except cache.PayloadError:
                return web.Response(status=413)
        if request.method == "PURGE":
            return web.Response(status=200 if self.cache.delete(key) else 404)
        if request.method != "GET":
            return web.Response(status=405)
        hit = self.cache.match(key, request.headers)
        if hit is None:
            return web.Response(status=504, headers={cache.STATUS_HEADER: "MISS"})
        status, headers, body = hit
        resp = web.Response(status=status, body=body or None)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                resp.headers.add(name, value)
        return resp

    # ------------------------------------------------------------------ Workers sites
    def _worker_version(self, script):
        """The version that answers a request: one of the newest deployment's, by its percentages."""
        deployments = script["deployments"]
        if not deployments:
            return None
        pick, acc = random.uniform(0, 100), 0.0
        chosen = deployments[0]["versions"][-1]
        for item in deployments[0]["versions"]:
            acc += item["percentage"]
            if pick < acc:
                chosen = item
                break
        return next((v for v in script["versions"] if v["id"] == chosen["version_id"]), None)

    async def serve_worker_site(self, request, host):
        """``<script>.<account subdomain>.workers.dev``: the router of Workers static assets
        (workers_assets.py), then the assets or the Worker (workerd)."""
        script = self.workers_scripts.script_for_host(host)
        if script is None or not script["subdomain"]["enabled"]:
            # [G] text: Cloudflare answers its own error page for an unknown or disabled workers.dev host
            return web.Response(text="Not found: no Worker is served on workers.dev at this host.\n", status=404)
        version = self._worker_version(script)
        if version is None:
            return web.Response(text="This Worker has no deployment.\n", status=404)
        assets = version.get("assets")
        raw_path, _, query = request.raw_path.partition("?")
        has_worker = bool(version.get("main_module"))
        cfg = (assets or {}).get("config") or {}

        def can_fetch():
            if not assets:
                return False
            return workers_assets.can_fetch(
                method=request.method, host=host, raw_path=raw_path, query=query, config=cfg,
                exists=self._worker_exists(script, version), redirects_text=cfg.get("_redirects") or "",
                static_routing=isinstance(cfg.get("run_worker_first"), list),
                navigation=request.headers.get("Sec-Fetch-Mode") == "navigate"
                and workers_assets.navigation_prefers_assets(version.get("compatibility_date"),
                                                             version.get("compatibility_flags")))

        if workers_assets.route_to_worker(has_worker=has_worker, run_worker_first=cfg.get("run_worker_first"),
                                          path=serving.url_pathname(raw_path), can_fetch_assets=can_fetch):
            if not self.workers.runtime.enabled:
                return web.Response(status=501, text="The emulator runs without workerd: "
                                    f"{self.workers.runtime.reason}\n")
            return await self.workers.forward_script(request, script, version)
        return self.serve_worker_assets(request, script["account"], script["name"], version["id"])

    def _worker_exists(self, script, version):
        manifest = (version.get("assets") or {}).get("manifest") or {}
        return lambda path: manifest.get(path)

    def serve_worker_assets(self, request, account, script_name, version_id):
        script = self.workers_scripts.find(account, script_name)
        version = next((v for v in (script or {}).get("versions", []) if v["id"] == version_id), None)
        if version is None or not version.get("assets"):
            return web.Response(status=404)
        cfg = version["assets"].get("config") or {}
        store_account = self.workers_scripts.asset_account(account)

        def row(h):
            return self.store.get_asset(store_account, h)

        host = request.host.rsplit(":", 1)[0].lower()
        raw_path, _, query = request.raw_path.partition("?")
        answer = workers_assets.serve(
            method=request.method, host=host, raw_path=raw_path, query=query, request_headers=request.headers,
            config=cfg, exists=self._worker_exists(script, version),
            content_type_of=lambda h: (row(h)["content_type"] or None) if row(h) else None,
            load=lambda h: (self.store.get_blob(row(h)["blob"]) or b"") if row(h) else b"",
            redirects_text=cfg.get("_redirects") or "", headers_text=cfg.get("_headers") or "")
        resp = web.Response(status=answer.status, body=answer.body if request.method != "HEAD" else None)
        if "Content-Type" not in answer.headers:   # uploaded as application/null: send none
            resp[NO_CONTENT_TYPE] = True
        for name, value in answer.headers.items():
            resp.headers[name] = value
        return resp

    def serve_static(self, request, d):
        """The deployment's static assets by Pages' rules (``serving.serve``), for a site request
        and for a worker's ``env.ASSETS.fetch()`` alike."""
        host = request.host.rsplit(":", 1)[0].lower()
        special = d.get("special") or {}
        manifest = self.store.get_manifest(d["id"])

        def text_of(name):
            digest = special.get(name)
            blob = self.store.get_blob(digest) if digest else None
            return blob.decode("utf-8", "replace") if blob else ""

        def lookup(asset_path):
            key = manifest.get(asset_path)
            row = self.store.get_asset(d["account"], key) if key is not None else None
            if row is None:
                return None
            return serving.Asset(key, row["content_type"],
                                 lambda: self.store.get_blob(row["blob"]) or b"")

        raw_path, _, query = request.raw_path.partition("?")
        answer = serving.serve(method=request.method, host=host, raw_path=raw_path, query=query,
                               request_headers=request.headers, lookup=lookup,
                               redirects_text=text_of("_redirects"), headers_text=text_of("_headers"))
        resp = web.Response(status=answer.status, body=answer.body)
        for name, value in answer.headers.items():
            resp.headers[name] = value
        return resp


async def _drop_default_content_type(request, response):
    """aiohttp gives every body a Content-Type (application/octet-stream) while it prepares the
    headers; an asset uploaded with ``application/null`` is served without one (direct-upload docs)."""
    if response.get(NO_CONTENT_TYPE):
        response.headers.pop("Content-Type", None)


def make_app(emulator: Emulator) -> web.Application:
    app = web.Application(client_max_size=CLIENT_MAX_SIZE)
    app.on_response_prepare.append(_drop_default_content_type)
    app.router.add_route("*", "/{tail:.*}", emulator.handle)
    return app
