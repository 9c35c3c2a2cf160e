# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""ansible-rulebook event source: new Cloudflare Pages deployments and their stage changes (docs/eda.md)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from pathlib import Path

DOCUMENTATION = r"""
---
short_description: Events for new Cloudflare Pages deployments and each change of their stage.
description:
  - An ansible-rulebook event source plugin that polls the deployments of Cloudflare Pages projects every
    O(interval) seconds and puts one event on the queue for every new deployment and for every change of a
    deployment's latest stage (its name, such as C(build) or C(deploy), or its status, such as C(active),
    C(success) or C(failure)).
  - "An event is C({cfpages: {project, deployment: {id, short_id, environment, branch, stage, status, url,
    outcome, skip}, previous: {stage, status}}}); C(previous) holds what the previous poll saw, both C(null) for a
    new deployment. It never carries a deployment's environment variables, build configuration or a credential."
  - C(outcome) is C(pending), C(success), C(failure) or C(skipped). A build Cloudflare skipped (for example a queued
    build that a newer build of the same branch superseded) is C(skipped), never C(failure), whatever its stage
    status says; C(skip) then holds its C(reason), C(message) and C(superseded_by) (a deployment id or C(null)).
  - Stages a deployment passes through within one O(interval) are not seen; the event goes from the stage
    seen before to the stage seen now.
  - It uses the collection's API client (plugins/module_utils), so it retries and paces itself under
    Cloudflare's rate limit as the modules do. It needs the collection installed (ansible-galaxy collection
    install), and the requests library.
options:
  api_token:
    description:
      - A Cloudflare API token with C(Pages Read) on the account.
      - Default the E(CLOUDFLARE_API_TOKEN) (or E(CF_API_TOKEN)) environment variable.
      - One of O(api_token) or O(api_email) + O(api_key) is required.
    type: str
  api_email:
    description:
      - The email of the user whose global API key is O(api_key). Default E(CLOUDFLARE_EMAIL) (or E(CF_EMAIL)).
    type: str
  api_key:
    description:
      - That user's global API key. Default E(CLOUDFLARE_API_KEY) (or E(CF_API_KEY)).
    type: str
  account_id:
    description:
      - The account id (32 hexadecimal characters). Default E(CLOUDFLARE_ACCOUNT_ID) (or E(CF_ACCOUNT_ID)).
    type: str
    required: true
  api_base_url:
    description:
      - The API's base URL with C(/client/v4), for example the collection's emulator.
      - Default E(CLOUDFLARE_API_BASE_URL) (or E(CF_API_BASE_URL)), then Cloudflare's.
    type: str
    default: https://api.cloudflare.com/client/v4
  projects:
    description:
      - The names of the projects to watch. Each must exist when the source starts.
      - Without it every project of the account is watched, listed again on every poll (a project made later
        is watched from then on, and its deployments are all new).
    type: list
    elements: str
  interval:
    description:
      - Seconds from the start of one poll to the start of the next, a finite number of at least 1 (NaN and
        infinity are refused).
      - One poll costs one request per project (plus one per 10 projects without O(projects)). The source warns
        when that would use more than half of Cloudflare's 1,200 requests per 5 minutes, which the account's
        modules and dashboard share.
    type: float
    default: 30
  emit_existing:
    description:
      - Whether the first poll reports the deployments the projects already have, as new deployments.
      - By default the first poll only learns them, and events start with the first change after it.
    type: bool
    default: false
  timeout:
    description: Seconds to wait for each HTTP response.
    type: float
    default: 30
  max_retries:
    description: How many times a failed request is retried (connection errors, timeouts, 5xx, transient codes).
    type: int
    default: 5
  retry_max_wait:
    description: The most seconds one request may spend waiting between its retries.
    type: float
    default: 120
  rate_limit_budget:
    description:
      - The most seconds one poll may spend waiting for the rate limit (HTTP 429, or the C(Ratelimit) header
        saying the window is used up). A poll that cannot finish within it logs why; the next poll tries again.
    type: float
    default: 600
  validate_certs:
    description: Whether to verify the API's TLS certificate.
    type: bool
    default: true
notes:
  - The first poll fails the source (with a message naming the problem) on bad arguments, rejected
    credentials or a listed project that does not exist. A later poll that fails (the API unreachable
    after the retries) is logged, and the next poll tries again.
  - Nothing the source logs or puts in an event holds a credential.
"""

EXAMPLES = r"""
- name: Deployments of two projects
  cfpages.cloudflare.deployments:
    projects: [docs, blog]
    interval: 30

- name: Every project of the account, credentials from the CLOUDFLARE_* environment variables
  cfpages.cloudflare.deployments:
    interval: 60
"""

LOG = logging.getLogger("cfpages.cloudflare.deployments")
MIN_INTERVAL = 1.0


def _collection_module_utils():
    """The module_utils of the collection this file is part of.

    ansible-rulebook runs the file with runpy (not as a package), so ``ansible_collections`` is importable
    only when the collections directory is on sys.path: put the one this file was installed in first
    (<root>/ansible_collections/cfpages/cloudflare/extensions/eda/plugins/event_source/deployments.py).
    """
    here = Path(__file__).resolve()
    parts = [p.name for p in here.parents[4:7]]
    if parts == ["cloudflare", "cfpages", "ansible_collections"]:
        root = str(here.parents[7])
        if root not in sys.path:
            sys.path.insert(0, root)
    try:
        # pylint: disable=import-outside-toplevel
        from ansible_collections.cfpages.cloudflare.plugins.module_utils._client import api as _api
        from ansible_collections.cfpages.cloudflare.plugins.module_utils import _base
        from ansible_collections.cfpages.cloudflare.plugins.module_utils._deployments import (
            events as _deployment_events,
        )
        from ansible_collections.cfpages.cloudflare.plugins.module_utils import _validate
        from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.ratelimit import WaitBudget
    except ImportError as err:
        raise ImportError(
            "cfpages.cloudflare.deployments needs the cfpages.cloudflare collection installed "
            "(ansible-galaxy collection install cfpages.cloudflare) and the requests library: %s" % err
        ) from err
    return _api, _base, _deployment_events, _validate, WaitBudget


def _env_default(spec, name):
    """An option's value from the environment variables the modules read (``common_argument_spec``)."""
    fallback = spec[name].get("fallback")
    for var in (fallback[1] if fallback else ()):
        if os.environ.get(var):
            return os.environ[var]
    return spec[name].get("default")


def _boolean(name, value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ValueError("%s must be true or false, not %r" % (name, value))


def _number(name, value, kind, minimum, validate):
    """``value`` (a rulebook's number, or the text of one) as ``kind``: a finite number of at least ``minimum``."""
    try:
        number = kind(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError("%s must be a number, not %r" % (name, value)) from None
    if isinstance(value, bool) or validate.number_problem(name, number, minimum):
        raise ValueError("%s must be a finite number of at least %s, not %r" % (name, minimum, value))
    return number


def parse_args(args, base, validate):
    """The source's settings from the rulebook's ``args`` (ValueError naming the option when one is wrong)."""
    spec = base.common_argument_spec()
    known = set(spec) | {"projects", "interval", "emit_existing"}
    unknown = sorted(k for k in args if k not in known and not str(k).startswith("eda_"))
    if unknown:
        raise ValueError("unknown option(s) %s; the options are %s" % (", ".join(unknown), ", ".join(sorted(known))))
    conf = {name: args[name] if args.get(name) not in (None, "") else _env_default(spec, name) for name in spec}
    for name, kind, minimum in (("timeout", float, 0.001), ("max_retries", int, 0), ("retry_max_wait", float, 0),
                                ("rate_limit_budget", float, 0)):
        conf[name] = _number(name, conf[name], kind, minimum, validate)
    problem = base.client_settings_problem(conf)
    if problem:
        raise ValueError(problem)
    conf["validate_certs"] = _boolean("validate_certs", conf["validate_certs"])
    conf["interval"] = _number("interval", args.get("interval", 30), float, MIN_INTERVAL, validate)
    conf["emit_existing"] = _boolean("emit_existing", args.get("emit_existing", False))
    projects = args.get("projects")
    if projects in (None, "", []):
        conf["projects"] = None
    else:
        if not isinstance(projects, (list, tuple)):
            raise ValueError("projects must be a list of project names, not %r" % (projects,))
        for name in projects:
            problem = validate.project_name_problem(name, option="projects")
            if problem:
                raise ValueError(problem)
        conf["projects"] = list(dict.fromkeys(projects))
    return conf


async def main(queue, args):
    """Poll the deployments every ``interval`` seconds and put an event per new deployment and stage change."""
    api, base, events, validate, wait_budget = _collection_module_utils()
    conf = parse_args(args or {}, base, validate)
    client = base.client_from_settings(conf, "ansible-rulebook event source", LOG.info)
    watcher = events.DeploymentWatcher(client, conf["projects"], conf["emit_existing"], log=LOG.warning)
    warned = False
    while True:
        started = time.monotonic()
        # Each poll gets the whole rate_limit_budget: the source runs for days, the modules' tasks do not.
        client.pacer.budget = wait_budget(conf["rate_limit_budget"])
        try:
            found = await asyncio.to_thread(watcher.poll)
        except api.PagesAPIError as err:
            if watcher.polls == 0:
                hint = ""
                if err.status in (401, 403) or err.has_code(*api.AUTH_CODES):
                    hint = (". The requests were authenticated with %s for account %s: check that it is valid and "
                            "grants 'Pages Read' on that account" % (client.describe_credentials(), conf["account_id"]))
                raise RuntimeError("cfpages.cloudflare.deployments: the first poll failed: %s%s" % (err, hint)) from None
            LOG.warning("a poll failed, trying again in %.0fs: %s", conf["interval"], err)
            found = []
        for event in found:
            await queue.put(event)
        if not warned:
            watched = len(conf["projects"] or watcher.seen)
            rate = events.requests_per_window(watched, conf["interval"], conf["projects"] is None)
            if rate > events.QUOTA_SHARE:
                LOG.warning("polling %d project(s) every %.0fs costs about %.0f requests per 5 minutes, more than "
                            "half of Cloudflare's 1,200; raise interval", watched, conf["interval"], rate)
            warned = True
        await asyncio.sleep(max(0.0, conf["interval"] - (time.monotonic() - started)))


if __name__ == "__main__":
    # Run alone (with the CLOUDFLARE_* variables set): print the events.

    class _PrintQueue:
        async def put(self, event):
            print(event)  # noqa: T201

    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(_PrintQueue(), {"interval": 10}))
