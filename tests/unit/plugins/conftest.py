# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Fixtures shared by the module unit tests: run a module's main() with given arguments and
catch what it would exit with, on every ansible-core from 2.16 on."""

from __future__ import annotations

import contextlib
import json

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.cfpages.cloudflare.tests.unit.plugins.fake_pages_api import FakePagesAPI
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.fakes import Clock, autospec_client


class AnsibleExitJson(Exception):
    """exit_json was called; ``result`` holds its arguments."""

    def __init__(self, result):
        super().__init__(result)
        self.result = result


class AnsibleFailJson(Exception):
    """fail_json was called; ``result`` holds its arguments."""

    def __init__(self, result):
        super().__init__(result)
        self.result = result


@contextlib.contextmanager
def _module_args(args, inject_invocation=False):
    try:
        # ansible-core 2.19 and later
        from ansible.module_utils.testing import patch_module_args
    except ImportError:
        patch_module_args = None
    args = dict(args)
    args.setdefault("_ansible_remote_tmp", "/tmp")
    args.setdefault("_ansible_keep_remote_files", False)
    if patch_module_args is not None:
        if inject_invocation:
            args["_ansible_inject_invocation"] = True  # what -vvv asks for; older cores always add it
        with patch_module_args(args):
            yield
        return
    saved = getattr(basic, "_ANSIBLE_ARGS", None)
    basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS = saved


@pytest.fixture
def module_args():
    """``with module_args(args, inject_invocation=False):`` runs a main() with the real
    exit_json/fail_json, which print their JSON and exit."""
    return _module_args


@pytest.fixture
def run_module(monkeypatch):
    """``run_module(main, args)`` -> ("exit"|"fail", result dict)."""

    def exit_json(self, **kwargs):
        kwargs.setdefault("changed", False)
        raise AnsibleExitJson(kwargs)

    def fail_json(self, **kwargs):
        kwargs["failed"] = True
        raise AnsibleFailJson(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)

    def run(main, args):
        with _module_args(args):
            try:
                main()
            except AnsibleExitJson as done:
                return "exit", done.result
            except AnsibleFailJson as failed:
                return "fail", failed.result
        raise AssertionError("the module returned without calling exit_json or fail_json")

    return run


@pytest.fixture
def clock(monkeypatch):
    """A :class:`Clock` that every wait of the collection (``_poll.poll_until``) uses."""
    from ansible_collections.cfpages.cloudflare.plugins.module_utils._client import poll as _poll

    fake = Clock()
    monkeypatch.setattr(_poll, "time", fake)
    return fake


@pytest.fixture
def install_client(monkeypatch):
    """``install_client(fake)``: the module under test gets :func:`autospec_client` of ``fake``
    as its client (after the real credential checks); returns ``fake``."""
    from ansible_collections.cfpages.cloudflare.plugins.module_utils import _base

    def install(fake):
        client = autospec_client(fake)
        monkeypatch.setattr(_base, "PagesClient", lambda **kwargs: client)
        return fake

    return install


@pytest.fixture
def pages_api(install_client, clock):
    """The module under test talks to a :class:`FakePagesAPI` (through :func:`autospec_client`)
    that stamps what it creates with ``clock``. Install it again after setting its ``pacer``."""
    return install_client(FakePagesAPI(clock))
