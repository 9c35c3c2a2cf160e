# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""Normalise, compare, patch and diff API objects (secrets in a diff are masked by ``_secrets``).

Vocabulary used by every function here:

``desired``
    What a task asks for, in the API's JSON shape, with the options the task did not set removed
    (see :func:`prune_unset`). A key that is present is *managed*; a key that is absent is not.
``current``
    The API's object as a GET returned it (``None`` when it does not exist).
``patch``
    The body of one PATCH: only what differs. ``None`` as the value of a map entry deletes that
    entry, which is how the Pages API removes environment variables and bindings.
``path`` / ``pattern``
    A path is a tuple of keys from the top of an object, e.g.
    ``("deployment_configs", "production", "env_vars")``. A pattern is a path in which ``"*"``
    matches any one key.

Nothing here talks to the API; every function returns new objects and never changes its
arguments.
"""

from __future__ import annotations

import copy

from ansible_collections.cfpages.cloudflare.plugins.module_utils._secrets import mask_secrets, mask_secrets_against

# In a diff's ``after``: the id (or other server-made value) of an object only a real run creates.
NEW_OBJECT = "(new)"

# Values the API returns for "not set", by key, besides None, "", [] and {}.
# ``"*"`` (every branch / every path) is what the API fills in when no filter is set.
DEFAULT_UNSET_EQUIVALENTS = {
    "preview_branch_includes": (["*"],),
    "path_includes": (["*"],),
}


# --------------------------------------------------------------------------- normalising


def prune_unset(value):
    """Return a deep copy of ``value`` without the dict keys whose value is ``None``, at any depth.

    Use it on the options of a task: Ansible fills every option and sub-option the task did not
    set with ``None``, and "not set" means "not managed". Empty strings, lists and dicts are
    kept, because a task that sets ``[]`` asks for an empty list.
    """
    if isinstance(value, dict):
        return {k: prune_unset(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [prune_unset(v) for v in value]
    return copy.deepcopy(value)


def normalise(value, key=None, unset_equivalents=None):
    """Return ``value`` in a canonical form for comparison (a new object).

    * ``None``, ``""``, ``[]`` and ``{}`` become ``None`` ("not set"), as do the values listed
      for ``key`` in ``unset_equivalents`` (default :data:`DEFAULT_UNSET_EQUIVALENTS`, e.g.
      ``["*"]`` for ``path_includes``);
    * dicts keep all their keys (a key whose value normalises to ``None`` stays, with ``None``),
      each value normalised with its own key;
    * lists whose items are all strings, or all numbers, are sorted: the lists of this API
      (compatibility flags, branch and path filters) are sets;
    * other values are returned as they are.
    """
    if unset_equivalents is None:
        unset_equivalents = DEFAULT_UNSET_EQUIVALENTS
    if isinstance(value, dict):
        if not value:
            return None
        return {k: normalise(v, k, unset_equivalents) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [normalise(v, None, unset_equivalents) for v in value]
        if not items or any(items == list(eq) for eq in unset_equivalents.get(key, ())):
            return None
        if all(isinstance(i, str) for i in items):
            return sorted(items)
        if all(isinstance(i, (int, float)) and not isinstance(i, bool) for i in items):
            return sorted(items)
        return items
    if value == "":
        return None
    return value


def subset_equal(desired, current):
    """True when the normalised ``desired`` matches the normalised ``current``.

    Dicts are compared as subsets: only the keys present in ``desired`` count, and a missing
    or ``None`` dict in ``current`` matches a ``desired`` dict whose values are all unset.
    Everything else is compared with ``==``. Both arguments must come from :func:`normalise`.
    """
    if isinstance(desired, dict):
        if current is None:
            current = {}
        if not isinstance(current, dict):
            return False
        return all(subset_equal(v, current.get(k)) for k, v in desired.items())
    return desired == current


def values_equal(desired, current, key=None, unset_equivalents=None):
    """:func:`subset_equal` of both values after :func:`normalise` (with ``key`` for both)."""
    return subset_equal(normalise(desired, key, unset_equivalents), normalise(current, key, unset_equivalents))


# --------------------------------------------------------------------------- patches


def path_matches(path, patterns):
    """True when the tuple ``path`` matches one of ``patterns`` (same length, ``"*"`` = any key)."""
    for pattern in patterns:
        if len(pattern) == len(path) and all(p in ("*", k) for p, k in zip(pattern, path)):
            return True
    return False


def _map_rule(path, maps):
    for pattern, purge in (maps or {}).items():
        if path_matches(path, (pattern,)):
            return purge
    return None


def map_patch(desired, current, purge=False, unset_equivalents=None):
    """Patch for a map of named entries (env vars, bindings): ``{name: entry | None}``.

    * an entry of ``desired`` that ``current`` lacks, or that differs from it
      (:func:`values_equal`: only the keys the desired entry sets count), is sent whole; an
      empty desired entry (``{}``, no key managed) equals any current entry of that name, e.g.
      an AI binding written ``{}`` that the API stores with the ``project_id`` it chose;
    * with ``purge``, each entry of ``current`` that ``desired`` does not list is sent as
      ``None`` (the API deletes it);
    * entries that match are left out. An empty result means "nothing to send".

    ``desired`` and ``current`` may be ``None`` (no entries).
    """
    desired = desired or {}
    current = current if isinstance(current, dict) else {}
    patch = {}
    for name, want in desired.items():
        if name in current and want == {}:
            continue
        if name not in current or not values_equal(want, current[name], None, unset_equivalents):
            patch[name] = copy.deepcopy(want)
    if purge:
        for name in current:
            if name not in desired:
                patch[name] = None
    return patch


def diff_patch(desired, current, atomic=(), maps=None, unset_equivalents=None, _path=()):
    """The smallest patch that turns ``current`` into what ``desired`` asks for.

    Walks ``desired`` (a dict as :func:`prune_unset` returns it): nested dicts are compared key by
    key and only differing keys are kept; any other value is sent when :func:`values_equal` says
    it differs from ``current``'s. At a path matching one of ``atomic`` the desired value is
    compared as a whole and, when it differs, sent whole. At a path matching a key of ``maps``
    (``{pattern: purge}``) the value is a map of named entries and :func:`map_patch` decides,
    with that ``purge`` flag. Returns ``{}`` when nothing differs.
    """
    current = current if isinstance(current, dict) else {}
    patch = {}
    for key, want in desired.items():
        here = _path + (key,)
        have = current.get(key)
        purge = _map_rule(here, maps)
        if purge is not None:
            sub = map_patch(want, have, purge, unset_equivalents)
            if sub:
                patch[key] = sub
        elif isinstance(want, dict) and want and not path_matches(here, atomic):
            sub = diff_patch(want, have, atomic, maps, unset_equivalents, here)
            if sub:
                patch[key] = sub
        elif not values_equal(want, have, key, unset_equivalents):
            patch[key] = copy.deepcopy(want)
    return patch


def apply_patch(obj, patch):
    """Return a deep copy of ``obj`` with ``patch`` merged in the way the Pages API's PATCH does.

    Dicts merge recursively; ``None`` deletes the key; any other value replaces the old one
    (lists are replaced whole). ``obj`` may be ``None`` (treated as ``{}``).
    """
    result = copy.deepcopy(obj) if isinstance(obj, dict) else {}
    for key, value in (patch or {}).items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = apply_patch(result[key], value)
        elif isinstance(value, dict):
            result[key] = apply_patch({}, value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def managed_view(current, desired, whole=(), _path=()):
    """The part of ``current`` that ``desired`` manages (for a diff's ``before``).

    Keeps the keys of ``current`` that ``desired`` also has, recursing into nested dicts; at a
    path matching one of ``whole`` (patterns) the current value is kept entire, e.g. a whole
    env var entry, or a whole map that is purged. Keys ``current`` lacks are left out.
    """
    if not isinstance(current, dict):
        return {}
    view = {}
    for key, want in desired.items():
        if key not in current:
            continue
        have = current[key]
        here = _path + (key,)
        if isinstance(want, dict) and isinstance(have, dict) and not path_matches(here, whole):
            view[key] = managed_view(have, want, whole, here)
        else:
            view[key] = copy.deepcopy(have)
    return view


def build_diff(before, after):
    """Ansible's ``diff`` result: ``{"before": ..., "after": ...}``, secrets masked.

    ``before`` and ``after`` are plain objects (``None`` for "does not exist", shown as ``""`` as
    Ansible's diff callback expects). Secrets are masked with :data:`_secrets.SECRET_MASK`; a secret in
    ``after`` whose value differs from the one at the same place in ``before`` (or that
    ``before`` lacks) is shown as :data:`_secrets.SECRET_CHANGED_MASK`, so a diff tells that a secret will
    be sent without showing it. The API returns secrets as ``""``, so a secret a task sends
    always shows as changed.
    """
    return {
        "before": "" if before is None else mask_secrets(before),
        "after": "" if after is None else mask_secrets_against(after, before),
    }
