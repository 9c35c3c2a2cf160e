# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""Secrets, in one place: which values are secret, how results, diffs and messages mask them, and
their registration with ansible-core's own masking.

Registration: secrets the modules learn at run time go to ansible-core's secret masking.

ansible-core 2.22 redacts registered secrets from everything it prints or logs, and a module
registers those it learns while it runs (an upload JWT, a secret environment variable's value
inside a free-form option, a token in an API response) with
``ansible.module_utils.secrets.register_secret``; the core then masks them on the controller too
(ansible-core 2.22 changelog, "Secret masking":
https://github.com/ansible/ansible/blob/stable-2.22/changelogs/CHANGELOG-v2.22.rst; the API is
lib/ansible/module_utils/secrets.py there). 2.22 also stopped scrubbing a module's
``no_log_values`` from its result, so on 2.22 registering is what hides such a value.
Older cores have no such registry: there the collection's own masking (``no_log_values``,
``mask_secrets`` below) is all there is, and these functions only pass the values through.
"""

from __future__ import annotations

import copy
import json

try:
    from ansible.module_utils.secrets import register_secrets as _core_register_secrets
except ImportError:  # ansible-core before 2.22
    _core_register_secrets = None

HAS_SECRET_MASKING = _core_register_secrets is not None

# What a secret value is replaced with in results, diffs and messages. It is the text Ansible
# itself puts in place of no_log values, so users see one marker for "hidden".
SECRET_MASK = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
# In a diff's ``after``: a secret that this task sends (new, or re-sent with update_secrets=always).
SECRET_CHANGED_MASK = SECRET_MASK + " (new value)"

# Keys whose (non-empty) value is a secret wherever they appear.
SECRET_KEYS = frozenset(("web_analytics_token",))
# Keys holding maps of environment variables ``{NAME: {"type": ..., "value": ...}}``.
ENV_VARS_KEYS = frozenset(("env_vars",))
SECRET_ENV_TYPE = "secret_text"

_NO_REF = object()  # mask without comparing to a "before" object
_ABSENT = object()  # compared to a "before" object that lacks this key


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


# --------------------------------------------------------------------------- masking


def mask_secrets(obj, mask=SECRET_MASK):
    """Return a deep copy of ``obj`` (any JSON-like value) with every secret replaced by ``mask``.

    Secrets are, at any depth (so a project, a deployment, a list of either, or a patch body):

    * the ``value`` of each entry of an ``env_vars`` map whose ``type`` is ``secret_text``
      (replaced even when the API sent ``""``, since the variable does hold a secret);
    * the value of a ``web_analytics_token`` key, when it is not ``None`` or ``""`` (an unset
      token stays visibly unset).

    Plain-text variables and everything else are copied unchanged. ``obj`` is not modified.
    """
    return _mask(obj, _NO_REF, mask)


def mask_secrets_against(after, before):
    """:func:`mask_secrets` of a diff's ``after``: a secret whose value differs from the one at the same
    place in ``before`` (or that ``before``, possibly None, lacks) is shown as :data:`SECRET_CHANGED_MASK`."""
    return _mask(after, _ABSENT if before is None else before, SECRET_MASK)


def _mask(obj, ref, mask):
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            sub_ref = _child(ref, key)
            if key in SECRET_KEYS and value not in (None, ""):
                out[key] = _mask_value(register_secret(value), sub_ref, mask)
            elif key in ENV_VARS_KEYS and isinstance(value, dict):
                out[key] = {
                    name: _mask_env_var(entry, _child(sub_ref, name), mask) for name, entry in value.items()
                }
            else:
                out[key] = _mask(value, sub_ref, mask)
        return out
    if isinstance(obj, (list, tuple)):
        # List items have no stable identity to compare with a "before" list.
        return [_mask(item, _NO_REF, mask) for item in obj]
    return copy.deepcopy(obj)


def _child(ref, key):
    if ref is _NO_REF:
        return _NO_REF
    if isinstance(ref, dict) and key in ref:
        return ref[key]
    return _ABSENT


def _mask_value(value, ref, mask):
    if ref is _NO_REF or ref == value:
        return mask
    return SECRET_CHANGED_MASK


def _mask_env_var(entry, ref, mask):
    if not isinstance(entry, dict):
        return _mask(entry, _NO_REF, mask)
    out = _mask(entry, _NO_REF, mask)
    if entry.get("type") == SECRET_ENV_TYPE and "value" in entry:
        ref_value = _child(ref, "value") if ref is not _NO_REF else _NO_REF
        if ref is not _NO_REF and isinstance(ref, dict) and ref.get("type") != SECRET_ENV_TYPE:
            ref_value = _ABSENT  # was plain text (or absent): the secret is new
        out["value"] = _mask_value(entry["value"], ref_value, mask)
    return out


def escaped_forms(values):
    """The other spellings of each secret that an error text may carry: its ``repr()`` and JSON forms
    (a newline shown as backslash-n) and the value without surrounding whitespace."""
    forms = set()
    for value in list(values):
        if not isinstance(value, str):
            continue
        for form in (repr(value)[1:-1], json.dumps(value)[1:-1], value.strip()):
            if form and form != value and len(form) >= 4:
                forms.add(form)
    return forms
