"""Running deployments' workers with workerd (Cloudflare's open-source Workers runtime).

Process model: **one** workerd process serves every loaded worker (one service + one socket per
deployment in one generated config). It starts on the first request to a worker and is replaced
(started anew with the new set of workers, the old one ended a few seconds later) when a request
needs a worker it has not loaded; at most ``MAX_LOADED`` workers stay loaded (least recently used
dropped). Before a deployment with a worker goes live, its worker is started **alone** in a
short-lived workerd ("the deploy check"); if that fails (syntax error, exception at start-up,
missing module, unknown compatibility flag), the deployment ends in ``deploy``/``failure`` with
the runtime's message as its last log line, so a broken worker never enters the shared process.
See tests/emulator/README.md ("Workers") for the measurements behind the choice.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

from .bindings import LocalBindings
from .workerbundle import MODULE_KINDS, BundleError, Module, WorkerCode, parse_routes, worker_code
from .workerdconfig import CF_BLOB, FORWARDED_PROTO, SERVICE_HEADER, WorkerSpec, write_config

DEFAULT_WORKERD = Path(__file__).resolve().parent.parent / "node_modules" / ".bin" / "workerd"
MAX_LOADED = 64
START_TIMEOUT = 20.0      # seconds a workerd may take to bind its sockets
CHECK_TIMEOUT = 20.0
RETIRE_AFTER = 5.0        # seconds an old process keeps serving in-flight requests
REQUEST_TIMEOUT = 60.0
# request.cf of every request: the shape of Cloudflare's IncomingRequestCfProperties with fixed
# placeholder values (the emulator knows no client's location); README "Workers" lists it.
CF_PROPERTIES = {
    "asn": 13335, "asOrganization": "Cloudflare", "colo": "SFO", "country": "US", "continent": "NA",
    "city": "San Francisco", "region": "California", "regionCode": "CA", "postalCode": "94107",
    "metroCode": "807", "timezone": "America/Los_Angeles", "latitude": "37.78000",
    "longitude": "-122.39000", "httpProtocol": "HTTP/1.1", "tlsVersion": "TLSv1.3",
    "tlsCipher": "AEAD-AES128-GCM-SHA256", "clientTcpRtt": 1, "edgeRequestKeepAliveStatus": 1,
    "requestPriority": "", "verifiedBotCategory": "",
}
# From this compatibility date the runtime enables nodejs_compat and nodejs_compat_v2 by default
# (Cloudflare changelog 2026-08-04 "Node.js compatibility is now enabled by default"; wrangler 4.122+
# NODEJS_COMPAT_DEFAULT_ON_DATE in packages/workers-utils/src/compatibility-date.ts, for which it
# bundles Node.js polyfills importing node:* modules). A workerd that knows the default rejects the
# flags as redundant for such a date; wrangler drops them before it starts the runtime.
NODEJS_COMPAT_DEFAULT_ON_DATE = "2026-08-04"
NODEJS_COMPAT_FLAGS = ("nodejs_compat", "nodejs_compat_v2")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailer", "transfer-encoding", "upgrade", "content-length"}


def runtime_flags(date, run_date, flags):
    """The flags to run a worker of compatibility date ``date`` with, on workerd at ``run_date``
    (``date``, or workerd's newest when ``date`` is newer, see spec_for): where ``date`` turns
    Node.js compatibility on by default but ``run_date`` does not, ``nodejs_compat`` said
    explicitly (unless ``no_nodejs_compat``); where ``run_date`` does, without the redundant flags."""
    flags = list(flags)
    if run_date >= NODEJS_COMPAT_DEFAULT_ON_DATE:
        return [f for f in flags if f not in NODEJS_COMPAT_FLAGS]
    if date >= NODEJS_COMPAT_DEFAULT_ON_DATE and not {"nodejs_compat", "no_nodejs_compat"} & set(flags):
        flags.append("nodejs_compat")
    return flags


class StartError(Exception):
    pass


def find_workerd(option: str | None) -> tuple[str | None, str]:
    """(path, "") when workerd can run, else (None, reason)."""
    if option is not None and option.lower() in ("", "none", "off"):
        return None, "disabled with --workerd none"
    candidate = option or str(DEFAULT_WORKERD)
    if os.sep not in candidate:
        candidate = shutil.which(candidate) or candidate
    if not os.path.isfile(candidate) or not os.access(candidate, os.X_OK):
        return None, (f"workerd not found at {candidate} (run: npm ci --prefix tests/emulator, "
                      "or pass --workerd PATH)")
    try:
        out = subprocess.run([candidate, "--version"], capture_output=True, text=True, timeout=20,
                             check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"workerd at {candidate} does not run: {e}"
    if out.returncode != 0 or not out.stdout.startswith("workerd"):
        return None, f"workerd at {candidate} does not run: {(out.stderr or out.stdout).strip()[:300]}"
    return candidate, ""


def runtime_message(stderr: str, names: dict) -> str:
    """The runtime's own error text, without workerd's ``service wN:`` prefix."""
    text = stderr.strip()
    for name in names:
        text = re.sub(rf"(^|\n)service {re.escape(name)}: ", r"\1", text)
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return " ".join(line.strip() for line in lines[:6]) or "workerd exited without a message"


def _kill(proc):
    if proc.returncode is None:
        try:
            proc.kill()
        except ProcessLookupError:
            pass


class _Process:
    def __init__(self, proc, ports: dict, sockets: dict, directory: Path):
        self.proc = proc
        self.ports = {sockets[name]: port for name, port in ports.items()}   # deployment id -> port
        self.directory = directory

    def alive(self) -> bool:
        return self.proc.returncode is None

    def stop(self):
        if self.proc.returncode is None:
            try:
                self.proc.terminate()
            except ProcessLookupError:
                pass


class WorkerRuntime:
    """workerd processes and the specs of the workers they run (no HTTP server code here)."""

    def __init__(self, workerd: str | None, reason: str, work_dir: Path):
        self.workerd = workerd
        self.reason = reason
        self.work_dir = work_dir
        self.max_date = None
        self.current: _Process | None = None
        self.retired: list = []    # replaced processes still finishing in-flight requests
        self.loaded: OrderedDict = OrderedDict()   # deployment id -> WorkerSpec, LRU order
        self.lock = asyncio.Lock()
        self.date_lock = asyncio.Lock()
        self.generation = 0
        self.log_path = work_dir / "workerd.log"

    @property
    def enabled(self) -> bool:
        return self.workerd is not None

    def describe(self) -> dict:
        if not self.enabled:
            return {"executed": False, "reason": self.reason}
        return {"executed": True, "workerd": self.workerd, "log": str(self.log_path)}

    # -------------------------------------------------------------- processes
    async def _spawn(self, directory: Path, specs: list, stderr_to_log: bool):
        config, sockets = write_config(directory, specs)
        read_fd, write_fd = os.pipe()
        log = open(self.log_path, "ab") if stderr_to_log else None  # noqa: SIM115 (handed to the child)
        try:
            proc = await asyncio.create_subprocess_exec(
                self.workerd, "serve", str(config), "config", f"--control-fd={write_fd}",
                pass_fds=(write_fd,), cwd=str(directory), stdin=subprocess.DEVNULL,
                stdout=log if log else subprocess.DEVNULL,
                stderr=log if log else subprocess.PIPE)
        finally:
            os.close(write_fd)
            if log:
                log.close()
        ports = {}
        try:
            loop = asyncio.get_running_loop()
            reader = asyncio.StreamReader()
            transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                                        os.fdopen(read_fd, "rb", 0))
            try:
                async def listen():
                    while len(ports) < len(sockets):
                        line = await reader.readline()
                        if not line:    # workerd closed the control fd: it is ending
                            return
                        m = re.search(rb'"socket":"([^"]+)","port":(\d+)', line)
                        if m:
                            ports[m.group(1).decode()] = int(m.group(2))
                await asyncio.wait_for(listen(), START_TIMEOUT)
            except asyncio.TimeoutError:
                pass
            finally:
                transport.close()
            if len(ports) == len(sockets):
                return _Process(proc, ports, sockets, directory)
            # let it finish writing its error and exit by itself (bounded), then read the error
            try:
                err = (await asyncio.wait_for(proc.communicate(), 5))[1] or b""
            except asyncio.TimeoutError:
                err = b"workerd did not start in time"
        except BaseException:   # cancelled (reset, shutdown): never leave a workerd behind
            _kill(proc)
            raise
        _kill(proc)
        if stderr_to_log:
            err = self._log_tail().encode()
        raise StartError(runtime_message(err.decode("utf-8", "replace"), sockets))

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text("utf-8", "replace")[-2000:]
        except OSError:
            return ""

    async def newest_date(self) -> str | None:
        """The newest compatibility date this workerd supports (it refuses newer ones)."""
        async with self.date_lock:
            if self.max_date is None and self.enabled:
                probe = self.work_dir / "probe"
                spec = WorkerSpec("probe", WorkerCode("p.js", [Module("p.js", "esModule", b"export default {}")]),
                                  "2100-01-01", [], service_address="127.0.0.1:9")
                newest = "2100-01-01"
                try:
                    (await self._spawn(probe, [spec], False)).stop()
                except StartError as e:  # the expected outcome: the message names the newest date
                    m = re.search(r'newest date supported by this server binary is "(\d{4}-\d{2}-\d{2})"',
                                  str(e))
                    if m:
                        newest = m.group(1)
                shutil.rmtree(probe, ignore_errors=True)
                self.max_date = newest
        return self.max_date

    async def check(self, spec: WorkerSpec) -> str | None:
        """Start ``spec`` alone; None when it starts, else the runtime's error message."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        directory = self.work_dir / f"check-{secrets.token_hex(4)}"
        try:
            proc = await asyncio.wait_for(self._spawn(directory, [spec], False), CHECK_TIMEOUT + 5)
            proc.stop()
            await asyncio.wait_for(proc.proc.wait(), 10)
            return None
        except StartError as e:
            return str(e)
        except asyncio.TimeoutError:
            return "the worker did not start within the time limit"
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def loaded_port(self, deployment_id: str) -> int | None:
        """The port of a worker the shared process runs now, else None."""
        cur = self.current
        if cur is not None and cur.alive() and deployment_id in cur.ports and not self.lock.locked():
            self.loaded.move_to_end(deployment_id)
            return cur.ports[deployment_id]
        return None

    async def port_for(self, spec: WorkerSpec, exists) -> int:
        """The port of ``spec``'s worker in the shared process, (re)starting it when needed.

        ``exists(deployment_id)`` says whether a loaded deployment still exists."""
        async with self.lock:
            cur = self.current
            if cur is not None and cur.alive() and spec.deployment_id in cur.ports:
                self.loaded.move_to_end(spec.deployment_id)
                return cur.ports[spec.deployment_id]
            self.loaded.pop(spec.deployment_id, None)
            for dep_id in [d for d in self.loaded if not exists(d)]:
                del self.loaded[dep_id]
            self.loaded[spec.deployment_id] = spec
            while len(self.loaded) > MAX_LOADED:
                self.loaded.popitem(last=False)
            self.work_dir.mkdir(parents=True, exist_ok=True)
            self.generation += 1
            directory = self.work_dir / f"gen-{self.generation}"
            try:
                new = await self._spawn(directory, list(self.loaded.values()), True)
            except StartError:
                # never expected (each worker passed its deploy check); keep only the one asked for
                self.loaded = OrderedDict([(spec.deployment_id, spec)])
                new = await self._spawn(directory, [spec], True)
            self.current = new
            if cur is not None:
                self._retire(cur)
            return new.ports[spec.deployment_id]

    def _retire(self, proc: _Process):
        self.retired.append(proc)

        def finish():
            proc.stop()
            shutil.rmtree(proc.directory, ignore_errors=True)
            if proc in self.retired:
                self.retired.remove(proc)
        asyncio.get_running_loop().call_later(RETIRE_AFTER, finish)

    def stop(self):
        """End the shared process and forget every loaded worker (reset, shutdown)."""
        for proc in [self.current, *self.retired]:
            if proc is not None:
                proc.stop()
                shutil.rmtree(proc.directory, ignore_errors=True)
        self.current = None
        self.retired.clear()
        self.loaded.clear()

    def running(self) -> list:
        cur = self.current
        if cur is None or not cur.alive():
            return []
        return [{"deployment_id": dep_id, "port": cur.ports[dep_id],
                 "main_module": spec.code.main_module, "modules": len(spec.code.modules),
                 "compatibility_date": spec.compatibility_date}
                for dep_id, spec in self.loaded.items() if dep_id in cur.ports]

    def pid(self):
        cur = self.current
        return cur.proc.pid if cur is not None and cur.alive() else None


class Workers:
    """The emulator's side: deploy checks, routing a site request to a worker, env.ASSETS."""

    def __init__(self, store, clock, data_dir, workerd_option=None, log=None):
        self.store = store
        self.clock = clock
        path, reason = find_workerd(workerd_option)
        self.runtime = WorkerRuntime(path, reason, Path(data_dir) / "workers")
        self.service_secret = secrets.token_hex(16)
        self.bindings = LocalBindings(data_dir, clock)
        self.emulator_address = None      # host:port, set once the server listens
        self.tasks: set = set()
        self._routes_cache: dict = {}
        self.script_versions: set = set()   # Workers script versions given to the runtime
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        if not self.runtime.enabled:
            self.log(f"pages emulator: workers are NOT executed: {reason}")

    # ------------------------------------------------------------ deployment documents
    def _special_blobs(self, d: dict) -> dict:
        out = {}
        for name in ("_worker.js", "_worker.bundle", "_routes.json"):
            digest = (d.get("special") or {}).get(name)
            if digest:
                out[name] = self.store.get_blob(digest)
        return out

    async def spec_for(self, d: dict) -> WorkerSpec:
        code = worker_code(self._special_blobs(d))
        date = d.get("compatibility_date") or "2021-11-02"
        newest = await self.runtime.newest_date()
        run_date = newest if newest and date > newest else date  # workerd refuses dates newer than its build
        flags = runtime_flags(date, run_date, d.get("compatibility_flags") or [])
        date = run_date
        text_vars = {name: str(v.get("value", "")) for name, v in (d.get("env_vars") or {}).items()}
        kv, d1, missing = {}, {}, {}
        for key, entries in (d.get("bindings") or {}).items():
            for name, entry in (entries or {}).items():
                entry = entry if isinstance(entry, dict) else {}
                if key == "kv_namespaces" and entry.get("namespace_id"):
                    kv[name] = str(entry["namespace_id"])
                elif key == "d1_databases" and entry.get("id"):
                    d1[name] = str(entry["id"])
                else:
                    missing[name] = key
                text_vars.pop(name, None)   # a binding wins over an env var of the same name
        return WorkerSpec(d["id"], code, date, flags,
                          text_vars=text_vars, kv=kv, d1=d1, missing_bindings=missing,
                          cache_scope=d["project_id"],
                          service_address=self.emulator_address or "127.0.0.1:9",
                          service_secret=self.service_secret)

    # ------------------------------------------------------------ the deploy check
    def schedule_check(self, d: dict):
        """Run the deploy check of a new deployment with a pending worker check."""
        if (d.get("worker_check") or {}).get("status") != "pending":
            return
        task = asyncio.get_running_loop().create_task(self._check(d["id"]))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def resume(self):
        """After a restart: checks that were still pending run again."""
        for d in self.store.pending_worker_checks():
            self.schedule_check(d)

    async def _check(self, deployment_id: str):
        d = self.store.get_deployment(deployment_id)
        if d is None:
            return
        if not self.runtime.enabled:
            error, executed = None, False
        else:
            executed = True
            try:
                error = await self.runtime.check(await self.spec_for(d))
            except BundleError as e:    # stored by an older emulator without validation
                error = str(e)
            except Exception as e:  # noqa: BLE001 - an emulator bug must not leave the deploy pending
                error = f"the emulator could not run the worker: {e!r}"
        d = self.store.get_deployment(deployment_id)
        if d is None:       # deleted meanwhile
            return
        now = self.clock()
        if error is None:
            log = ["Success: Your site was deployed!"] if executed else [
                "Warning: the worker was not executed (the emulator runs without workerd; "
                f"{self.runtime.reason})", "Success: Your site was deployed!"]
            check = {"status": "success", "ended_at": now, "executed": executed, "log": log}
        else:
            check = {"status": "failure", "ended_at": now, "executed": True,
                     "log": [f"Error: Failed to publish your Function. Got error: {error}"]}
        d["worker_check"] = check
        self.store.begin()
        try:
            self.store.update_deployment(d)
            if error is None and d["environment"] == "production":
                self.store.add_canonical_event(d["project_id"], d["id"], now)
            self.store.commit()
        except BaseException:
            self.store.rollback()
            raise

    # ------------------------------------------------------------ requests
    def routes_to_worker(self, d: dict, path: str) -> bool:
        check = d.get("worker_check") or {}
        if check.get("status") != "success" or not check.get("executed"):
            return False
        digest = (d.get("special") or {}).get("_routes.json")
        if not digest:
            return True
        routes = self._routes_cache.get(digest)
        if routes is None:
            try:
                routes = parse_routes(self.store.get_blob(digest) or b"")
            except BundleError:
                return True
            self._routes_cache[digest] = routes
        return routes.matches(path)

    def service_target(self, request) -> tuple[str, str] | None:
        """``(kind, id)`` of a worker's binding call (env.ASSETS, a KV namespace, a D1 database,
        the Cache API), marked by the header workerd injects; None for any other request."""
        value = request.headers.get(SERVICE_HEADER)
        if not value:
            return None
        secret, _, rest = value.partition(":")
        kind, _, ident = rest.partition(":")
        if not secrets.compare_digest(secret, self.service_secret) or kind not in (
                "assets", "wassets", "kv", "d1", "cache"):
            return None
        return kind, ident

    async def script_spec(self, script: dict, version: dict) -> WorkerSpec:
        """The WorkerSpec of a Workers script version (workers_scripts.py): its modules, its
        plain_text / secret_text bindings as text, its assets binding under the name it chose."""
        modules = [Module(m["name"], m["kind"], self.store.get_blob(m["blob"]) or b"") for m in version["modules"]]
        date = version.get("compatibility_date") or "2021-11-02"
        newest = await self.runtime.newest_date()
        run_date = newest if newest and date > newest else date
        flags = runtime_flags(date, run_date, version.get("compatibility_flags") or [])
        text_vars, missing, assets_binding = {}, {}, None
        for b in version.get("bindings") or []:
            if b["type"] in ("plain_text", "secret_text"):
                text_vars[b["name"]] = str(b.get("text", ""))
            elif b["type"] == "json":
                text_vars[b["name"]] = json.dumps(b.get("json"))   # [G] given as its JSON text
            elif b["type"] == "assets":
                assets_binding = b["name"]
            else:
                missing[b["name"]] = b["type"]
        self.script_versions.add(version["id"])
        return WorkerSpec(version["id"], WorkerCode(version["main_module"], modules, {}), run_date, flags,
                          text_vars=text_vars, missing_bindings=missing, cache_scope=f"worker:{script['name']}",
                          service_address=self.emulator_address or "127.0.0.1:9",
                          service_secret=self.service_secret, assets_binding=assets_binding,
                          assets_target=("wassets", f"{script['account']}/{script['name']}/{version['id']}"))

    async def check_upload(self, parts: list) -> str | None:
        """Start a Workers script upload's code alone, as Cloudflare validates a script when it is
        uploaded (a script that throws at start-up is refused with 10021 and the runtime's message).
        None when it starts, when there is no code, or when the upload is malformed (the API
        handler answers that) or workerd is not available."""
        if not self.runtime.enabled:
            return None
        by_name = {name: (ctype, data) for name, ctype, data in parts}
        try:
            meta = json.loads(by_name.get("metadata", (None, b""))[1])
        except ValueError:
            return None
        main = meta.get("main_module") if isinstance(meta, dict) else None
        if not isinstance(main, str) or main not in by_name:
            return None
        modules = []
        for name, (ctype, data) in by_name.items():
            kind = MODULE_KINDS.get((ctype or "").split(";")[0].strip().lower())
            if name != "metadata" and kind:
                modules.append(Module(name, kind, data))
        modules.sort(key=lambda m: m.name != main)
        date = meta.get("compatibility_date") if isinstance(meta.get("compatibility_date"), str) else "2021-11-02"
        flags = [f for f in meta.get("compatibility_flags") or [] if isinstance(f, str)]
        newest = await self.runtime.newest_date()
        run_date = newest if newest and date > newest else date
        text_vars, missing, assets_binding = {}, {}, None
        for b in meta.get("bindings") or []:
            if not isinstance(b, dict) or not isinstance(b.get("name"), str):
                return None
            if b.get("type") in ("plain_text", "secret_text", "json", "inherit"):
                text_vars[b["name"]] = ""
            elif b.get("type") == "assets":
                assets_binding = b["name"]
            else:
                missing[b["name"]] = str(b.get("type"))
        spec = WorkerSpec("upload-check", WorkerCode(main, modules, {}), run_date,
                          runtime_flags(date, run_date, flags), text_vars=text_vars, missing_bindings=missing,
                          service_address="127.0.0.1:9", service_secret=self.service_secret,
                          assets_binding=assets_binding, assets_target=("wassets", "check"))
        return await self.runtime.check(spec)

    async def forward_script(self, request, script: dict, version: dict):
        return await self.forward(request, version, spec=lambda: self.script_spec(script, version))

    async def forward(self, request, d: dict, spec=None):
        from aiohttp import ClientSession, ClientTimeout, web
        from multidict import CIMultiDict

        try:
            port = self.runtime.loaded_port(d["id"]) or await self.runtime.port_for(
                await (spec() if spec else self.spec_for(d)),
                lambda dep_id: dep_id in self.script_versions or self.store.get_deployment(dep_id) is not None)
        except StartError as e:
            return web.Response(status=502, text=f"The emulator could not start the worker: {e}\n")
        internal = (SERVICE_HEADER.lower(), CF_BLOB.lower())
        headers = CIMultiDict((k, v) for k, v in request.headers.items()
                              if k.lower() not in HOP_BY_HOP and k.lower() not in internal)
        headers[FORWARDED_PROTO] = "https"
        headers["Host"] = request.host.rsplit(":", 1)[0]   # the site's name, as on the Pages edge
        # what Cloudflare's edge adds to every request (replacing any the client sent)
        client = request.remote or "127.0.0.1"
        headers["CF-Connecting-IP"] = client
        headers["X-Forwarded-For"] = client
        headers["CF-IPCountry"] = CF_PROPERTIES["country"]
        headers["CF-Ray"] = f"{secrets.token_hex(8)}-{CF_PROPERTIES['colo']}"
        headers["CF-Visitor"] = '{"scheme":"https"}'
        cf = dict(CF_PROPERTIES, clientAcceptEncoding=request.headers.get("Accept-Encoding", ""))
        headers[CF_BLOB] = json.dumps(cf)
        body = await request.read()
        async with ClientSession(timeout=ClientTimeout(total=REQUEST_TIMEOUT), auto_decompress=False) as s:
            async with s.request(request.method, f"http://127.0.0.1:{port}{request.raw_path}",
                                 headers=headers, data=body or None, allow_redirects=False) as resp:
                data = await resp.read()
                out = CIMultiDict((k, v) for k, v in resp.headers.items() if k.lower() not in HOP_BY_HOP)
                return web.Response(status=resp.status, headers=out,
                                    body=data if request.method != "HEAD" else None)

    def introspect(self) -> dict:
        workers = self.runtime.running()
        for w in workers:
            d = self.store.get_deployment(w["deployment_id"])
            if d is not None:
                w["short_id"] = d["short_id"]
                w["environment"] = d["environment"]
                p = self.store.get_project_by_id(d["project_id"])
                w["project"] = p["name"] if p else None
        return {**self.runtime.describe(), "pid": self.runtime.pid(), "workers": workers}

    def shutdown(self):
        """End workerd (the emulator stops); stored KV / D1 data stays for the next start, and a
        deploy check cut short stays pending (``resume`` runs it again)."""
        for task in list(self.tasks):
            task.cancel()
        self.runtime.stop()
        self.bindings.close()

    def reset(self):
        for task in list(self.tasks):
            task.cancel()
        self.runtime.stop()
        self._routes_cache.clear()
        self.bindings.wipe()
