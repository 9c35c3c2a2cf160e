# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""Register secrets the modules learn at run time with ansible-core's secret masking.

ansible-core 2.22 redacts registered secrets from everything it prints or logs, and a module
registers those it learns while it runs (an upload JWT, a secret environment variable's value
inside a free-form option, a token in an API response) with
``ansible.module_utils.secrets.register_secret``; the core then masks them on the controller too
(ansible-core 2.22 changelog, "Secret masking":
https://github.com/ansible/ansible/blob/stable-2.22/changelogs/CHANGELOG-v2.22.rst; the API is
lib/ansible/module_utils/secrets.py there). 2.22 also stopped scrubbing a module's
``no_log_values`` from its result, so on 2.22 registering is what hides such a value.
Older cores have no such registry: there the collection's own masking (``no_log_values``,
``_compare.mask_secrets``) is all there is, and these functions only pass the values through.
"""

from __future__ import annotations

try:
    from ansible.module_utils.secrets import register_secrets as _core_register_secrets
except ImportError:  # ansible-core before 2.22
    _core_register_secrets = None

HAS_SECRET_MASKING = _core_register_secrets is not None


def register_secrets(values):
    """Register every non-blank string in ``values`` where the core can mask; return ``values`` as a list."""
    values = list(values)
    found = [value for value in values if isinstance(value, str) and value.strip()]
    if found and _core_register_secrets is not None:
        _core_register_secrets(found)
    return values


def register_secret(value):
    """Register ``value`` (when it is a non-empty string) and return it unchanged."""
    register_secrets((value,))
    return value
