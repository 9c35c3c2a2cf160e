# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""Checks of user input that can be made before any request: credentials, identifiers and names.

Every function returns a problem (a message for the user) or None. A message names the option and,
for a credential, never shows its value.
"""

from __future__ import annotations

import ipaddress
import math
import re

# Pages project names: 1 to 58 characters a-z, 0-9 and "-", not starting or ending with "-"
# (https://developers.cloudflare.com/pages/configuration/build-configuration/ and the API's answer).
PROJECT_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,56}[a-z0-9])?$")
# An account id is 32 hex characters (https://developers.cloudflare.com/fundamentals/account/find-account-and-zone-ids/).
ACCOUNT_ID_RE = re.compile(r"^[0-9a-fA-F]{32}$")
# Environment variables and bindings reach a Worker as properties of `env`, and the API describes a
# binding name as "A JavaScript variable name for the binding" (the `workers_binding_name` schema of
# https://developers.cloudflare.com/api/). Only the ASCII form of a JavaScript identifier is accepted:
# letters, digits, "_" and "$", not starting with a digit.
VARIABLE_NAME_RE = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
# Pages gives a project's Worker its static assets as env.ASSETS; a variable or binding of that name
# would hide them. wrangler refuses the name in a Pages configuration: "The name 'ASSETS' is reserved
# in Pages projects." (workers-sdk packages/workers-utils/src/config/validation.ts,
# validateBindingsHaveUniqueNames: every binding type, environment variables and secrets).
RESERVED_PAGES_NAME = "ASSETS"
# One DNS label of a hostname (RFC 1123): letters, digits and "-", 1 to 63, no "-" at either end.
HOST_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
HOSTNAME_MAX = 253

CREDENTIAL_OPTIONS = ("api_token", "api_key", "api_email")


def credential_problem(option, value):
    """A credential that cannot go into an HTTP header as given (a copy-paste with a newline, a space).

    The message names ``option`` and never the value: it is a secret.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return "%s must be a string." % option
    if value != value.strip():
        return (
            "%s has whitespace (a space or a newline) at its start or end; remove it (a copy from a secret store "
            "often adds a trailing newline). The value is not shown." % option
        )
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        return "%s contains control characters; set it to the credential alone. The value is not shown." % option
    if option != "api_email" and any(char.isspace() or ord(char) > 126 for char in value):
        return "%s contains spaces or non-ASCII characters; set it to the credential alone. The value is not shown." % option
    return None


def number_problem(option, value, minimum, above=False):
    """A number option that is not a finite number of at least ``minimum`` (more than it with ``above``).

    NaN compares false with everything, so ``value < minimum`` alone lets it through: a poll interval or
    a timeout of NaN means no pause at all, or the HTTP library's own error, which does not name the option.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "%s must be a number, not %r." % (option, value)
    if not math.isfinite(value):
        return "%s must be a finite number, not %r." % (option, value)
    if value < minimum or (above and value == minimum):
        return "%s must be %s %s, not %r." % (option, "more than" if above else "at least", minimum, value)
    return None


def account_id_problem(value):
    if not isinstance(value, str) or not ACCOUNT_ID_RE.fullmatch(value):
        return (
            "account_id must be the 32 hexadecimal characters of a Cloudflare account id (it is shown on the "
            "account's overview page in the dashboard; got %r)." % (value,)
        )
    return None


def project_name_problem(value, option="project_name"):
    if not isinstance(value, str) or not PROJECT_NAME_RE.fullmatch(value):
        if value in (None, ""):
            return "%s must not be empty: set it to the name of the Pages project." % option
        return (
            "%s %r is not a valid Pages project name: use 1 to 58 lowercase letters (a-z), digits and hyphens, "
            "not starting or ending with a hyphen." % (option, value)
        )
    return None


def variable_name_problem(name, where, what="variable"):
    """An environment variable or binding name that Pages does not accept (see VARIABLE_NAME_RE)."""
    if not isinstance(name, str) or not name:
        return "%s: a %s name must not be empty." % (where, what)
    if not VARIABLE_NAME_RE.fullmatch(name):
        return (
            "%s: %r is not a valid %s name: use ASCII letters, digits, '_' and '$', not starting with a digit "
            "(a JavaScript identifier, as the Worker reads it from env)." % (where, name, what)
        )
    if name == RESERVED_PAGES_NAME:
        return (
            "%s: the name %r is reserved in Pages projects (env.ASSETS is the binding to the project's static "
            "assets, as wrangler says): use a different %s name." % (where, name, what)
        )
    return None


def hostname_problem(name, option="name"):
    """A custom domain name (already lowercased, ASCII/IDNA, without trailing dot) that is not a public hostname."""
    if len(name) > HOSTNAME_MAX:
        return "%s is %d characters long; a hostname has at most %d." % (option, len(name), HOSTNAME_MAX)
    try:
        ipaddress.ip_address(name.strip("[]"))
        return "%s must be a hostname, not an IP address (got %r)." % (option, name)
    except ValueError:
        pass
    labels = name.split(".")
    if len(labels) < 2:
        return "%s must be a fully qualified hostname such as www.example.com (got %r)." % (option, name)
    for label in labels:
        if not label:
            return "%s has an empty label (two dots in a row, or a leading dot): %r." % (option, name)
        if len(label) > 63:
            return "%s has a label of %d characters; a label has at most 63 (got %r)." % (option, len(label), name)
        if not HOST_LABEL_RE.fullmatch(label):
            return (
                "%s %r is not a valid hostname: each label uses letters, digits and '-', and does not start or "
                "end with '-'." % (option, name)
            )
    if labels[-1].isdigit():
        return "%s must end in a top-level domain, not a number (got %r)." % (option, name)
    return None


def text_field_problem(value, where):
    """A binding field that must be text: lists, dicts and booleans would be sent as their Python text."""
    if value is None or isinstance(value, str):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "%s must be a string, not %s." % (where, type(value).__name__)
    return None


def option_is_set(value, spec):
    """Whether a task set an option: not None, not its default, and not ``false`` for a flag (a flag
    written ``false`` asks for what leaving it out asks for)."""
    if value is None or value == spec.get("default"):
        return False
    return not (spec.get("type") == "bool" and value is False)


def misplaced_options_problem(params, argument_spec, option_states, state):
    """The message for the options that ``params`` sets outside the states ``option_states`` allows, or None.

    ``option_states`` maps every option of ``argument_spec`` to the states it is valid in. A state may
    be qualified: ``"present with source"`` is state=present with the ``source`` option set, and an
    option valid only there is refused with state=present without it ("... without source").
    """
    misplaced, lacking = [], set()
    for option, states in option_states.items():
        if not option_is_set(params.get(option), argument_spec[option]):
            continue
        needed = set()
        for entry in states:
            name, _sep, needs = entry.partition(" with ")
            if name != state:
                continue
            if not needs or option_is_set(params.get(needs), argument_spec[needs]):
                break
            needed.add(needs)
        else:
            misplaced.append(option)
            lacking.update(needed)
    if not misplaced:
        return None
    return "%s cannot be used with state=%s%s." % (
        ", ".join(sorted(misplaced)), state, "".join(" without %s" % needs for needs in sorted(lacking))
    )


def hash_cache_option(value):
    """``(setting, problem)``: the ``hash_cache`` option as the upload engine takes it -- None (the
    default directory), False (off) or a directory -- or the message for a value that is none of them.
    YAML's words for a boolean, given as a string, count as the boolean."""
    if value is None or isinstance(value, bool):
        return value, None
    if not isinstance(value, str) or not value.strip():
        return None, "hash_cache must be a directory path, or false to turn the hash cache off."
    word = value.strip().lower()
    if word in ("false", "no", "off", "n", "0"):
        return False, None
    if word in ("true", "yes", "on", "y", "1"):
        return None, None
    return value, None
