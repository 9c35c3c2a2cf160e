# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Secrets learned at run time are registered with ansible-core's masking where the core has it (2.22+)."""

from __future__ import annotations

import pytest

from ansible_collections.cfpages.cloudflare.plugins.module_utils import _secrets
from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.api import PagesClient
from ansible_collections.cfpages.cloudflare.plugins.module_utils._secrets import mask_secrets
from ansible_collections.cfpages.cloudflare.plugins.modules.pages_project import secret_values

try:
    from ansible.module_utils.secrets import mask_secrets as core_mask
except ImportError:  # before 2.22
    core_mask = None

needs_core_masking = pytest.mark.skipif(core_mask is None, reason="ansible-core before 2.22 has no secret registry")

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJwcm9qZWN0IjoieCJ9.registered-jwt-signature-4f1c"


class _Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, values):
        self.calls.append(list(values))


@pytest.fixture
def recorder(monkeypatch):
    rec = _Recorder()
    monkeypatch.setattr(_secrets, "_core_register_secrets", rec)
    return rec


def test_flag_matches_the_core():
    assert _secrets.HAS_SECRET_MASKING is (core_mask is not None)


def test_non_strings_and_blanks_are_passed_through_not_registered(recorder):
    assert _secrets.register_secrets(["", "  ", None, 5, "s3cr3t-value"]) == ["", "  ", None, 5, "s3cr3t-value"]
    assert recorder.calls == [["s3cr3t-value"]]
    assert _secrets.register_secret(None) is None
    assert recorder.calls == [["s3cr3t-value"]]


def test_without_the_core_registry_values_pass_through(monkeypatch):
    monkeypatch.setattr(_secrets, "_core_register_secrets", None)
    assert _secrets.register_secret("a-secret-value") == "a-secret-value"


def test_upload_jwt_is_registered(monkeypatch, recorder):
    client = PagesClient(account_id="0" * 32, api_token="t" * 40)
    monkeypatch.setattr(client, "get", lambda path, **kw: {"jwt": JWT})
    assert client.get_upload_token("site") == JWT
    assert recorder.calls == [[JWT]]


def test_secret_env_values_are_registered(recorder):
    params = {"deployment_configs": {"production": {"env_vars": {
        "KEY": {"type": "secret_text", "value": "env-secret-0192"},
        "URL": {"type": "plain_text", "value": "https://example.com"},
    }}}}
    assert secret_values(params) == ["env-secret-0192"]
    assert recorder.calls == [["env-secret-0192"]]


def test_web_analytics_token_from_the_api_is_registered(recorder):
    masked = mask_secrets({"build_config": {"web_analytics_token": "wat-5b7e0c2d9a", "web_analytics_tag": "tag"}})
    assert masked["build_config"]["web_analytics_token"] != "wat-5b7e0c2d9a"
    assert recorder.calls == [["wat-5b7e0c2d9a"]]


@needs_core_masking
def test_core_masks_what_was_registered(monkeypatch):
    client = PagesClient(account_id="0" * 32, api_token="t" * 40)
    monkeypatch.setattr(client, "get", lambda path, **kw: {"jwt": JWT})
    client.get_upload_token("site")
    assert JWT not in core_mask("token: %s" % JWT)


def test_the_secret_rules_live_only_in_secrets_py():
    """One home for secrets: no other plugin file spells the mask or the secret type itself."""
    import pathlib

    plugins = pathlib.Path(_secrets.__file__).resolve().parents[1]
    home = pathlib.Path(_secrets.__file__).resolve()
    copies = []
    for path in sorted(plugins.rglob("*.py")):
        if path.resolve() == home:
            continue
        text = path.read_text(encoding="utf-8")
        for spelling in ('"%s"' % _secrets.SECRET_MASK, '"%s"' % _secrets.SECRET_ENV_TYPE, "def mask_secrets", "SECRET_KEYS ="):
            if spelling in text:
                copies.append("%s: %s" % (path.relative_to(plugins), spelling))
    assert copies == []
