# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""The Workers Scripts API calls ``worker_deployment`` needs, on top of :class:`PagesClient`
(which does the authentication, retries, rate-limit pacing and error decoding).

Shapes: Cloudflare's API reference (developers.cloudflare.com/api/resources/workers/subresources/scripts/,
its ``versions``, ``deployments``, ``secrets`` and ``subdomain`` subresources) and the direct upload of
static assets (developers.cloudflare.com/workers/static-assets/direct-upload/).
"""

from __future__ import annotations

import json
from urllib.parse import quote

from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import PagesAPIError, UploadError
from ansible_collections.cfpages.cloudflare.plugins.module_utils._secrets import register_secret

#: "This Worker does not exist on your account." (the code wrangler keys on).
WORKER_NOT_FOUND = 10007
#: An unknown version of a Worker.
VERSION_NOT_FOUND = 10221


class WorkersApi:
    """The Workers endpoints of one account, sent through ``client`` (a :class:`PagesClient`)."""

    def __init__(self, client):
        self.client = client

    def path(self, *parts):
        """``/accounts/{account_id}/workers/...`` with every part URL-quoted."""
        quoted = "/".join(quote(str(p), safe="") for p in parts)
        return "/accounts/%s/workers/%s" % (quote(str(self.client.account_id), safe=""), quoted)

    # ------------------------------------------------------------------ reads

    def list_deployments(self, script):
        """The script's deployments, newest first, or None when the Worker does not exist."""
        try:
            result = self.client.get(self.path("scripts", script, "deployments"))
        except PagesAPIError as err:
            if err.has_code(WORKER_NOT_FOUND):
                return None
            raise
        return list((result or {}).get("deployments") or [])

    def get_version(self, script, version_id):
        """One version, or None when the API does not know it."""
        try:
            return self.client.get(self.path("scripts", script, "versions", version_id))
        except PagesAPIError as err:
            if err.has_code(VERSION_NOT_FOUND, WORKER_NOT_FOUND):
                return None
            raise

    def list_versions(self, script, per_page=100):
        """The newest ``per_page`` versions, newest first."""
        result = self.client.get(self.path("scripts", script, "versions"), params={"per_page": per_page})
        return list((result or {}).get("items") or [])

    def get_subdomain(self, script):
        """``{enabled, previews_enabled}``: whether the Worker answers on workers.dev; None when the
        Worker does not exist (so it can be read before knowing that)."""
        try:
            return self.client.get(self.path("scripts", script, "subdomain")) or {}
        except PagesAPIError as err:
            if err.has_code(WORKER_NOT_FOUND):
                return None
            raise

    def account_subdomain(self):
        """The account's workers.dev subdomain (``<name>.workers.dev``), or None when it has none."""
        try:
            return (self.client.get(self.path("subdomain")) or {}).get("subdomain")
        except PagesAPIError as err:
            if err.status == 404:
                return None
            raise

    # ------------------------------------------------------------------ assets

    def assets_upload_session(self, script, manifest):
        """``{jwt, buckets}`` for ``manifest`` (``{"/path": {"hash", "size"}}``). The session
        changes nothing the Worker serves, so it is safe to send again. The token is registered
        as a secret."""
        result = self.client.request(
            "POST", self.path("scripts", script, "assets-upload-session"), json_body={"manifest": manifest},
            idempotent=True,
        ).get("result") or {}
        if result.get("jwt"):
            register_secret(result["jwt"])
        return result

    def upload_assets(self, jwt, body, content_type, timeout=None, gateway_backoff=None):
        """POST one bucket with the session token: ``body()`` makes the multipart body (a file-like
        object with a length, streamed; called once per attempt), ``content_type`` names its
        boundary. Returns the result (``{"jwt": <completion token>}`` once every file of the
        session is in)."""

        def token(refresh):
            if refresh:
                # Only a new session gives a new upload token (it lives one hour).
                raise UploadError(
                    "the asset upload token was rejected or expired (it is valid for one hour); run the task again"
                )
            return jwt

        result = self.client.request(
            "POST", self.path("assets", "upload"), params={"base64": "true"}, data=body, content_type=content_type, idempotent=True,
            jwt_provider=token, timeout=timeout, gateway_backoff=gateway_backoff,
        ).get("result") or {}
        if result.get("jwt"):
            register_secret(result["jwt"])
        return result

    # ------------------------------------------------------------------ changes

    def put_script(self, script, metadata, modules=()):
        """Upload the script (metadata and ES modules: ``(name, bytes, content_type)``): a new
        version, deployed at 100 %. Returns the script object."""
        files = [("metadata", ("metadata.json", json.dumps(metadata), "application/json"))]
        files.extend((name, (name, content, content_type)) for name, content, content_type in modules)
        return self.client.request("PUT", self.path("scripts", script), files=files).get("result") or {}

    def deploy_version(self, script, version_id, message=None):
        """Deploy ``version_id`` to 100 % of traffic (a rollback when it is an older version)."""
        body = {"strategy": "percentage", "versions": [{"version_id": version_id, "percentage": 100}]}
        if message:
            body["annotations"] = {"workers/message": message}
        return self.client.request("POST", self.path("scripts", script, "deployments"), json_body=body).get("result")

    def set_subdomain(self, script, enabled):
        return self.client.request(
            "POST", self.path("scripts", script, "subdomain"), json_body={"enabled": bool(enabled)}
        ).get("result")

    def delete_script(self, script):
        """Delete the Worker with its versions, deployments and secrets; False when it was gone."""
        return self.client.delete(self.path("scripts", script), WORKER_NOT_FOUND, missing_ok=True)
