"""workerd configuration (Cap'n Proto text) for deployments' workers.

The schema is workerd's `src/workerd/server/workerd.capnp` (shipped as `workerd.capnp` in the npm
package): a `Config` with `services` (one `worker` per deployment, and one `external` service per
deployment for its `ASSETS` binding, its Cache API (`cacheApiOutbound`) and each KV namespace /
D1 database, all pointing back at the emulator with a marking header) and `sockets` (one per
worker, port 0: workerd reports the ports it bound on `--control-fd`). Every user-supplied byte
(module code, variable values) goes into its own file and is pulled in with `embed`, so nothing
user-controlled is ever parsed as Cap'n Proto.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .workerbundle import WorkerCode

SERVICE_HEADER = "X-Pages-Emulator-Service"  # "<secret>:<assets|kv|d1|cache>:<id>" on a worker's binding calls
FORWARDED_PROTO = "X-Forwarded-Proto"       # the emulator sends "https", like the Pages edge
CF_BLOB = "X-Pages-Emulator-Cf"             # JSON the worker sees as request.cf


@dataclass
class WorkerSpec:
    """What workerd needs to run one deployment's worker."""
    deployment_id: str
    code: WorkerCode
    compatibility_date: str
    compatibility_flags: list
    text_vars: dict = field(default_factory=dict)       # env var name -> value (plain and secret)
    kv: dict = field(default_factory=dict)                # binding name -> KV namespace id
    d1: dict = field(default_factory=dict)                # binding name -> D1 database id
    missing_bindings: dict = field(default_factory=dict)  # binding name -> deployment_configs key
    cache_scope: str = ""                                 # whose caches the Cache API reaches (the project)
    service_address: str = ""                             # host:port of the emulator
    service_secret: str = ""                              # proves a SERVICE_HEADER came from workerd
    # the assets binding: Pages always binds ASSETS to the deployment; a Worker names its own binding
    # (or has none) and its assets are reached as "wassets:<account>/<script>/<version>"
    assets_binding: str | None = "ASSETS"
    assets_target: tuple = ()                             # (kind, id); default ("assets", deployment_id)


def capnp_text(value: str) -> str:
    """A Cap'n Proto text literal (only for names we generate or module/binding names)."""
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


SHIM = """\
// Added by the Pages emulator in front of the deployment's worker:
// - ctx.passThroughOnException(): as on Pages, an exception afterwards hands the request on to the
//   static assets (workerd alone would answer 500);
// - bindings the emulator cannot provide locally answer with a clear error (501).
import * as user from %(main)s;
export * from %(main)s;
const MISSING = %(missing)s;
class NotEmulated extends Error {}
function stub(name, key) {
  const fail = () => { throw new NotEmulated(
    `binding ${name} (deployment_configs.${key}) is not emulated by the Pages emulator`); };
  return new Proxy(fail, { get: (_t, prop) => prop === "then" ? undefined : fail, apply: fail });
}
const handler = user.default;
export default typeof handler === "function" ? handler : {
  async fetch(request, env, ctx) {
    let full = env;
    if (Object.keys(MISSING).length) {
      full = { ...env };
      for (const [name, key] of Object.entries(MISSING)) full[name] = stub(name, key);
    }
    let passThrough = false;
    const context = new Proxy(ctx, { get(target, prop) {
      if (prop === "passThroughOnException") return () => { passThrough = true; };
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    } });
    try {
      if (!handler || typeof handler.fetch !== "function") throw new TypeError("Entry point missing `fetch` handler");
      return await handler.fetch(request, full, context);
    } catch (e) {
      if (e instanceof NotEmulated) return new Response(e.message + "\\n", { status: 501 });
      if (passThrough && env.ASSETS) return env.ASSETS.fetch(request);
      throw e;
    }
  },
};
"""
SHIM_NAME = "__pages_emulator_entry.mjs"


def _main_import(name: str) -> str:
    return json.dumps(name if name.startswith((".", "/")) else "./" + name)


def write_config(directory: Path, specs: list[WorkerSpec]) -> tuple[Path, dict]:
    """Write ``config.capnp`` and the embedded files under ``directory`` (emptied first).

    Returns the config path and {socket name: deployment id}."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    services, sockets, socket_map = [], [], {}
    for i, spec in enumerate(specs):
        wdir = directory / f"w{i}"
        wdir.mkdir()
        name = f"w{i}"
        modules = []
        code_modules = list(spec.code.modules)
        shim = SHIM % {"main": _main_import(spec.code.main_module),
                       "missing": json.dumps(spec.missing_bindings)}
        (wdir / "shim").write_text(shim)
        modules.append(f'(name = {capnp_text(SHIM_NAME)}, esModule = embed "w{i}/shim")')
        for j, mod in enumerate(code_modules):
            (wdir / f"m{j}").write_bytes(mod.content)
            modules.append(f'(name = {capnp_text(mod.name)}, {mod.kind} = embed "w{i}/m{j}")')
        bindings = []
        for j, (var, value) in enumerate(sorted(spec.text_vars.items())):
            (wdir / f"v{j}").write_text(value)
            bindings.append(f'(name = {capnp_text(var)}, text = embed "w{i}/v{j}")')
        externals = []
        if spec.assets_binding:
            kind, ident = spec.assets_target or ("assets", spec.deployment_id)
            externals.append(("assets", kind, ident))
        if spec.cache_scope:
            # caches.default / caches.open(): workerd speaks its cache protocol to this service
            # (pages_emulator/cache.py); the cache key is the URL, scheme included.
            externals.append(("cache", "cache", spec.cache_scope))
        if spec.assets_binding:
            bindings.append(f'(name = {capnp_text(spec.assets_binding)}, service = "{name}-assets")')
        for j, (var, namespace) in enumerate(sorted(spec.kv.items())):
            externals.append((f"kv{j}", "kv", namespace))
            bindings.append(f'(name = {capnp_text(var)}, kvNamespace = "{name}-kv{j}")')
        for j, (var, database) in enumerate(sorted(spec.d1.items())):
            externals.append((f"d1{j}", "d1", database))
            bindings.append(f'(name = {capnp_text(var)}, wrapped = (moduleName = "cloudflare-internal:d1-api", '
                            f'innerBindings = [(name = "fetcher", service = "{name}-d1{j}")]))')
        flags = ", ".join(capnp_text(f) for f in spec.compatibility_flags)
        cache_outbound = f'      cacheApiOutbound = "{name}-cache",\n' if spec.cache_scope else ""
        services.append(
            f'    (name = "{name}", worker = (\n'
            f'      modules = [\n        ' + ",\n        ".join(modules) + '\n      ],\n'
            f'      compatibilityDate = {capnp_text(spec.compatibility_date)},\n'
            + cache_outbound +
            f'      compatibilityFlags = [{flags}],\n'
            f'      bindings = [\n        ' + ",\n        ".join(bindings) + '\n      ],\n'
            f'    )),\n')
        for suffix, kind, ident in externals:
            style, extra = "", ""
            if kind == "cache":   # the whole URL in the request line; proxy style sends no Host
                style, extra = "style = proxy, ", ', (name = "Host", value = "cache")'
            services.append(
                f'    (name = "{name}-{suffix}", external = (\n'
                f'      address = {capnp_text(spec.service_address)},\n'
                f'      http = ({style}injectRequestHeaders = [(name = "{SERVICE_HEADER}", '
                f'value = {capnp_text(f"{spec.service_secret}:{kind}:{ident}")}){extra}]),\n'
                f'    )),\n')
        sockets.append(f'    (name = "{name}", address = "127.0.0.1:0", '
                       f'http = (forwardedProtoHeader = "{FORWARDED_PROTO}", cfBlobHeader = "{CF_BLOB}"), '
                       f'service = "{name}"),\n')
        socket_map[name] = spec.deployment_id
    text = ('using Workerd = import "/workerd/workerd.capnp";\n'
            "# Generated by the Pages emulator (tests/emulator/pages_emulator/workerdconfig.py).\n"
            "const config :Workerd.Config = (\n"
            "  services = [\n" + "".join(services) + "  ],\n"
            "  sockets = [\n" + "".join(sockets) + "  ],\n"
            ");\n")
    path = directory / "config.capnp"
    path.write_text(text)
    return path, socket_map
