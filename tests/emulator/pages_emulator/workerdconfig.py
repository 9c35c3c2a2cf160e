"""workerd configuration (Cap'n Proto text) for deployments' workers.

The schema is workerd's `src/workerd/server/workerd.capnp` (shipped as `workerd.capnp` in the npm
package): a `Config` with `services` (one `worker` per deployment, and one `external` service per
deployment for its `ASSETS` binding) and `sockets` (one per worker, port 0: workerd reports the
ports it bound on `--control-fd`). Every user-supplied byte (module code, variable values) goes
into its own file and is pulled in with `embed`, so nothing user-controlled is ever parsed as
Cap'n Proto.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .workerbundle import WorkerCode

ASSETS_HEADER = "X-Pages-Emulator-Assets"   # marks a worker's env.ASSETS.fetch() to the emulator
FORWARDED_PROTO = "X-Forwarded-Proto"       # the emulator sends "https", like the Pages edge


@dataclass
class WorkerSpec:
    """What workerd needs to run one deployment's worker."""
    deployment_id: str
    code: WorkerCode
    compatibility_date: str
    compatibility_flags: list
    text_vars: dict = field(default_factory=dict)       # env var name -> value (plain and secret)
    missing_bindings: dict = field(default_factory=dict)  # binding name -> deployment_configs key
    assets_address: str = ""                              # host:port of the emulator
    assets_token: str = ""                                # value of ASSETS_HEADER (secret + id)


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
// Added by the Pages emulator: bindings it cannot provide locally answer with a clear error.
import * as user from %(main)s;
export * from %(main)s;
const MISSING = %(missing)s;
class NotEmulated extends Error {}
function stub(name, key) {
  const fail = () => { throw new NotEmulated(
    `binding ${name} (deployment_configs.${key}) is not emulated by the Pages emulator`); };
  return new Proxy(fail, { get: (_t, prop) => prop === "then" ? undefined : fail, apply: fail });
}
export default {
  async fetch(request, env, ctx) {
    const full = { ...env };
    for (const [name, key] of Object.entries(MISSING)) full[name] = stub(name, key);
    const handler = user.default;
    try {
      if (!handler || typeof handler.fetch !== "function") throw new TypeError("Entry point missing `fetch` handler");
      return await handler.fetch(request, full, ctx);
    } catch (e) {
      if (e instanceof NotEmulated) return new Response(e.message + "\\n", { status: 501 });
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
        if spec.missing_bindings:
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
        bindings.append(f'(name = "ASSETS", service = "{name}-assets")')
        flags = ", ".join(capnp_text(f) for f in spec.compatibility_flags)
        services.append(
            f'    (name = "{name}", worker = (\n'
            f'      modules = [\n        ' + ",\n        ".join(modules) + '\n      ],\n'
            f'      compatibilityDate = {capnp_text(spec.compatibility_date)},\n'
            f'      compatibilityFlags = [{flags}],\n'
            f'      bindings = [\n        ' + ",\n        ".join(bindings) + '\n      ],\n'
            f'    )),\n'
            f'    (name = "{name}-assets", external = (\n'
            f'      address = {capnp_text(spec.assets_address)},\n'
            f'      http = (injectRequestHeaders = [(name = "{ASSETS_HEADER}", '
            f'value = {capnp_text(spec.assets_token)})]),\n'
            f'    )),\n')
        sockets.append(f'    (name = "{name}", address = "127.0.0.1:0", '
                       f'http = (forwardedProtoHeader = "{FORWARDED_PROTO}"), service = "{name}"),\n')
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
