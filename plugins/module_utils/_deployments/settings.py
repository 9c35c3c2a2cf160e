# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""Whether a redeploy of the same files would ship anything: the configuration a deployment was
made with, compared with its environment's configuration now, and the ``reason`` of a deploy.

A Pages deployment runs with the configuration its environment (``deployment_configs.production``
or ``.preview`` of the project) had when the deployment was created -- the API reference's
Deployment object carries its own ``env_vars`` -- so changing an environment variable or a binding
reaches visitors only with a new deployment. "No change" therefore means the same files *and* the
same configuration as the live deployment was made with.

Two parts, because the API shows only some of it on the deployment object (``GET
.../deployments``, pages-openapi.json ``pages_deployments``; the real API adds
``compatibility_date`` and ``compatibility_flags``):

* :data:`SHOWN_FIELDS` -- ``env_vars`` (names, types, plain values; secret values come back
  blank), ``compatibility_date``, ``compatibility_flags`` -- are read from the live deployment
  itself, so they compare whoever made it (this module, wrangler, the dashboard). A field the
  deployment object lacks is not compared.
* everything else that changes what the worker runs with (bindings, ``usage_model``,
  ``placement``, ``limits``, ``fail_open``, ``always_use_latest_compatibility_date``, binding types
  the API adds later) is not on the deployment object: the engine records a sha256 of it as the
  line ``cfpages-settings: <hex>`` of the commit message (next to ``cfpages-digest``), and the
  next run compares that. A deployment without that line (made by another tool or an older
  version of the collection) is not compared on these.

Secret values cannot be read back, so only the names and types of secrets compare: a secret
whose value alone changed is shipped with ``force: true`` (docs/upload-engine.md).

Nothing here makes a request.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re

from ansible_collections.cfpages.cloudflare.plugins.module_utils._compare import normalise
from ansible_collections.cfpages.cloudflare.plugins.module_utils._secrets import SECRET_ENV_TYPE

#: Fields of a deployment object that say which configuration it was made with.
SHOWN_FIELDS = ("env_vars", "compatibility_date", "compatibility_flags")
#: Keys of ``deployment_configs.<env>`` that do not change what a Direct Upload deployment runs:
#: the build image (git builds only) and wrangler's marker of a wrangler config file.
NOT_RUNTIME = ("build_image_major_version", "wrangler_config_hash")
#: The name of the recorded part in diffs and in ``configuration_changes``.
SETTINGS = "bindings_and_settings"

#: Commit message line recording the digest of the settings the deployment object does not show.
SETTINGS_TRAILER = "cfpages-settings"
SETTINGS_TRAILER_HEX = 32
_SETTINGS_RE = re.compile(r"(?:^|\n)%s: ([0-9a-f]{16,64})[ \t\r]*(?=\n|\Z)" % SETTINGS_TRAILER)

PLAIN_ENV_TYPE = "plain_text"

# Why pages_deployment deploys (its ``reason`` result).
UNCHANGED = "unchanged"
NOTHING_LIVE = "nothing live"
LIVE_FAILED = "live deployment failed"
FILES_CHANGED = "files changed"
CONFIGURATION_CHANGED = "configuration changed"
FORCED = "forced"
REASONS = (UNCHANGED, NOTHING_LIVE, LIVE_FAILED, FILES_CHANGED, CONFIGURATION_CHANGED, FORCED)


# --------------------------------------------------------------------------- the environment now


def environment_config(project, branch):
    """``deployment_configs`` of the environment a deployment of ``branch`` lands in (the
    production branch: ``production``, any other: ``preview``); ``{}`` when unknown."""
    if not isinstance(project, dict):
        return {}
    env = "production" if branch == project.get("production_branch") else "preview"
    config = (project.get("deployment_configs") or {}).get(env)
    return copy.deepcopy(config) if isinstance(config, dict) else {}


def _drop_unset(value):
    """``value`` (from :func:`_compare.normalise`) without the dict keys whose value is None."""
    if isinstance(value, dict):
        return {k: _drop_unset(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_unset(v) for v in value]
    return value


def settings_of(config):
    """The part of an environment's configuration a deployment object does not show (normalised:
    unset, ``null``, ``[]`` and ``{}`` are the same)."""
    rest = {k: v for k, v in (config or {}).items() if k not in SHOWN_FIELDS + NOT_RUNTIME}
    return _drop_unset(normalise(rest)) or {}


def settings_digest(config):
    """sha256 (hex) of :func:`settings_of` ``config``."""
    text = json.dumps(settings_of(config), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(("cfpages-settings-v1\n" + text).encode("ascii")).hexdigest()


def settings_line(config):
    """``cfpages-settings: <hex>``: the commit message line recording ``config``'s settings."""
    return "%s: %s" % (SETTINGS_TRAILER, settings_digest(config)[:SETTINGS_TRAILER_HEX])


def recorded_settings(deployment):
    """The settings digest a deployment's commit message records, or None."""
    if not isinstance(deployment, dict):
        return None
    metadata = (deployment.get("deployment_trigger") or {}).get("metadata") or {}
    message = metadata.get("commit_message")
    match = _SETTINGS_RE.search(message) if isinstance(message, str) else None
    return match.group(1) if match else None


# --------------------------------------------------------------------------- comparing


def _env_vars(value):
    """An ``env_vars`` map as ``{NAME: {"type", "value"}}`` (``type`` None when the API left it out;
    a secret's value blank, as the API returns it)."""
    out = {}
    for name, entry in (value or {}).items() if isinstance(value, dict) else ():
        entry = entry if isinstance(entry, dict) else {}
        kind = entry.get("type") or None
        text = entry.get("value")
        out[name] = {"type": kind, "value": "" if kind == SECRET_ENV_TYPE or text is None else str(text)}
    return out


def _var_differs(live, want):
    """Whether variable ``want`` (the environment's) differs from ``live`` (the deployment's).
    Types compare when both are known; values only for plain text (secrets come back blank)."""
    want_type = want.get("type") or PLAIN_ENV_TYPE
    if live.get("type") and live["type"] != want_type:
        return True
    if want_type == SECRET_ENV_TYPE or live.get("type") == SECRET_ENV_TYPE:
        return False
    return live.get("value") != want.get("value")


def _flags(value):
    return sorted(str(flag) for flag in value) if isinstance(value, (list, tuple)) else []


class ConfigComparison:
    """The configuration ``live`` (a deployment object) was made with, against ``config`` (its
    environment's now): ``changes`` (what differs: ``env_vars.NAME``, ``compatibility_date``,
    ``compatibility_flags``, :data:`SETTINGS`), and ``before``/``after`` (the compared fields,
    for a diff; secret values blank)."""

    def __init__(self, live, config):
        live = live if isinstance(live, dict) else {}
        config = config or {}
        self.before = {}
        self.after = {}
        self.changes = []
        if "env_vars" in live:
            self._env_vars(_env_vars(live.get("env_vars")), _env_vars(config.get("env_vars")))
        # With always_use_latest_compatibility_date the deployment gets the newest date, not the
        # environment's; the flag itself is one of the recorded settings.
        if "compatibility_date" in live and config.get("compatibility_date") and not config.get(
                "always_use_latest_compatibility_date"):
            self._field("compatibility_date", live.get("compatibility_date") or None, config["compatibility_date"])
        if "compatibility_flags" in live:
            self._field("compatibility_flags", _flags(live.get("compatibility_flags")),
                        _flags(config.get("compatibility_flags")))
        recorded = recorded_settings(live)
        if recorded:
            now = settings_digest(config)
            self._field(SETTINGS, "sha256:" + recorded, "sha256:" + now[:len(recorded)])

    def _env_vars(self, live, want):
        self.before["env_vars"] = live
        self.after["env_vars"] = {
            name: dict(entry, type=entry.get("type") or PLAIN_ENV_TYPE) for name, entry in want.items()
        }
        for name in sorted(set(live) | set(want)):
            if name not in live or name not in want or _var_differs(live[name], want[name]):
                self.changes.append("env_vars." + name)

    def _field(self, name, before, after):
        self.before[name] = before
        self.after[name] = after
        if before != after:
            self.changes.append(name)

    @property
    def changed(self):
        return bool(self.changes)


def deploy_reason(live, carries_files, live_failed, configuration=None, force=False):
    """Why a deploy is needed, or :data:`UNCHANGED`: :data:`NOTHING_LIVE` (nothing serves the
    branch), :data:`FILES_CHANGED` (the live deployment is other files, or other code),
    :data:`LIVE_FAILED` (it is these files, but it failed), :data:`CONFIGURATION_CHANGED` (these
    files, made with another configuration: ``configuration``, a :class:`ConfigComparison`, says
    what), :data:`FORCED` (nothing else, but ``force``)."""
    if not isinstance(live, dict):
        return NOTHING_LIVE
    if not carries_files:
        return FILES_CHANGED
    if live_failed:
        return LIVE_FAILED
    if configuration is not None and configuration.changed:
        return CONFIGURATION_CHANGED
    return FORCED if force else UNCHANGED
