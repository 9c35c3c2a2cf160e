# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""What a module returns for an API object: one function per object type (project, deployment,
custom domain) turns the object into the returned dict and masks its secrets.

Modules put the API's objects in their result as they got them; :func:`prepare_result`, called by
``PagesModule`` on every exit and failure, shapes each one under its result key (the hcloud
collection's ``get_result``/``_prepare_result`` split). So no path of any module returns an object
that skipped its shaping, and the RETURN docs of all four modules describe one shape per type.
"""

from __future__ import annotations

from ansible_collections.cfpages.cloudflare.plugins.module_utils._secrets import mask_secrets


def project_result(project):
    """A Project as returned: the API's object with the values of ``secret_text`` variables and the
    ``web_analytics_token`` masked; ``{}`` for no project."""
    if not project:
        return {}
    return mask_secrets(project)


def deployment_result(deployment):
    """A Deployment as returned: the API's object with its secrets masked (deployments carry the
    environment's variables); None for no deployment (check mode, nothing deleted)."""
    if deployment is None:
        return None
    return mask_secrets(deployment)


def domain_result(domain):
    """A custom domain as returned: the API's object (it holds no secret); ``{}`` for no domain."""
    if not domain:
        return {}
    return mask_secrets(domain)


def _each(prepare):
    def prepare_all(items):
        return None if items is None else [prepare(item) for item in items]

    return prepare_all


# The result keys that hold API objects, and how each is shaped.
RESULT_OBJECTS = {
    "project": project_result,
    "projects": _each(project_result),
    "deployment": deployment_result,
    "deployments": _each(deployment_result),
    "domain": domain_result,
    "domains": _each(domain_result),
}


def prepare_result(result):
    """A copy of ``result`` with every API object in it shaped by its type's function above; keys
    the result does not have are not added."""
    prepared = dict(result)
    for key, prepare in RESULT_OBJECTS.items():
        if key in prepared:
            prepared[key] = prepare(prepared[key])
    return prepared
