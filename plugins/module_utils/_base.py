# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""The base of every module: common options, the client, and API errors mapped to ``fail_json``."""

from __future__ import annotations

import traceback

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib
from ansible.module_utils.ansible_release import __version__ as ANSIBLE_VERSION

from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.api import (
    AUTH_CODES,
    DEFAULT_BASE_URL,
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    PagesClient,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._compare import build_diff
from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import (
    PROJECT_NOT_FOUND,
    PagesError,
    create_cooldown_advice,
    is_create_cooldown,
    project_in_path,
    project_not_found_advice,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.ratelimit import DEFAULT_BUDGET
from ansible_collections.cfpages.cloudflare.plugins.module_utils._results import prepare_result
from ansible_collections.cfpages.cloudflare.plugins.module_utils._secrets import escaped_forms
from ansible_collections.cfpages.cloudflare.plugins.module_utils._validate import (
    CREDENTIAL_OPTIONS,
    account_id_problem,
    credential_problem,
    misplaced_options_problem,
    number_problem,
)


def common_argument_spec():
    """The options every module of the ``pages`` action group accepts (doc fragment ``auth``)."""
    return dict(
        # Environment variable names are wrangler's, so existing CI secrets work unchanged.
        api_token=dict(type="str", no_log=True, fallback=(env_fallback, ["CLOUDFLARE_API_TOKEN", "CF_API_TOKEN"])),
        api_email=dict(type="str", fallback=(env_fallback, ["CLOUDFLARE_EMAIL", "CF_EMAIL"])),
        api_key=dict(type="str", no_log=True, fallback=(env_fallback, ["CLOUDFLARE_API_KEY", "CF_API_KEY"])),
        account_id=dict(type="str", required=True, fallback=(env_fallback, ["CLOUDFLARE_ACCOUNT_ID", "CF_ACCOUNT_ID"])),
        api_base_url=dict(
            type="str", default=DEFAULT_BASE_URL, fallback=(env_fallback, ["CLOUDFLARE_API_BASE_URL", "CF_API_BASE_URL"])
        ),
        timeout=dict(type="float", default=30.0),
        max_retries=dict(type="int", default=5),
        retry_max_wait=dict(type="float", default=120.0),
        rate_limit_budget=dict(type="float", default=DEFAULT_BUDGET),
        validate_certs=dict(type="bool", default=True),
    )


class _SecretAwareModule(AnsibleModule):
    """An AnsibleModule that also hides secrets it cannot know from the argument spec.

    ``secret_values`` (a keyword argument, optional) is a callable that takes the raw parameters
    and returns the secret strings inside them, e.g. values of ``secret_text`` environment
    variables in a free-form dict option (``no_log`` can only mark whole options). They are
    added to ``no_log_values`` before any result is written, including the failure for invalid
    arguments, so they never appear in ``invocation`` or elsewhere in a result.
    """

    def __init__(self, *args, **kwargs):
        self._secret_values = kwargs.pop("secret_values", None)
        super().__init__(*args, **kwargs)

    def _hide_secret_values(self):
        found = ()
        if self._secret_values is not None:
            try:
                found = self._secret_values(getattr(self, "params", None) or {})
            except Exception:  # pylint: disable=broad-exception-caught
                found = ()  # never let the hook turn a result into a traceback
        self.no_log_values.update(str(value) for value in found if value not in (None, ""))
        self.no_log_values.update(escaped_forms(self.no_log_values))

    def exit_json(self, **kwargs):
        self._hide_secret_values()
        super().exit_json(**kwargs)

    def fail_json(self, *args, **kwargs):  # pylint: disable=arguments-differ
        self._hide_secret_values()
        super().fail_json(*args, **kwargs)


# The number options of common_argument_spec: (option, minimum, whether the minimum itself is refused).
NUMBER_OPTIONS = (("timeout", 0, True), ("max_retries", 0, False), ("retry_max_wait", 0, False),
                  ("rate_limit_budget", 0, False))


def client_settings_problem(settings):
    """What is wrong with the credentials, the account id or the number options (NaN, infinite, below
    their minimum) in ``settings`` (the options of :func:`common_argument_spec`), or None. Checked before any request: a newline in a header value
    makes the HTTP layer fail with the header's repr() in its message, and a malformed account id
    turns every path into a route miss. The modules and the event source share it."""
    for option in CREDENTIAL_OPTIONS:
        problem = credential_problem(option, settings[option])
        if problem:
            return problem
    problem = account_id_problem(settings["account_id"])
    if problem:
        return problem + " Set account_id or CLOUDFLARE_ACCOUNT_ID."
    for option, minimum, above in NUMBER_OPTIONS:
        problem = number_problem(option, settings[option], minimum, above)
        if problem:
            return problem
    if not settings["api_token"] and not (settings["api_email"] and settings["api_key"]):
        if settings["api_key"] or settings["api_email"]:
            return "api_email and api_key go together: set both (or CLOUDFLARE_EMAIL and CLOUDFLARE_API_KEY), or use api_token."
        return (
            "No Cloudflare credentials: set api_token (or the CLOUDFLARE_API_TOKEN environment variable), "
            "or api_email and api_key (CLOUDFLARE_EMAIL and CLOUDFLARE_API_KEY)."
        )
    return None


def client_from_settings(settings, user_agent_extra, log):
    """The :class:`PagesClient` for ``settings`` (the options of :func:`common_argument_spec`)."""
    return PagesClient(
        account_id=settings["account_id"],
        api_token=settings["api_token"],
        api_email=settings["api_email"],
        api_key=settings["api_key"],
        base_url=settings["api_base_url"],
        timeout=settings["timeout"],
        max_retries=settings["max_retries"],
        retry_max_wait=settings["retry_max_wait"],
        rate_limit_budget=settings["rate_limit_budget"],
        validate_certs=settings["validate_certs"],
        user_agent_extra=user_agent_extra,
        log=log,
    )


class PagesModule:
    """Subclasses set ``argument_spec`` (and optional AnsibleModule keyword arguments in
    ``module_kwargs``, plus ``secret_values``: see ``_SecretAwareModule``) and implement
    ``execute()``, which fills ``self.result``: API objects go in as the API returned them, and
    every exit and failure shapes and masks them (``_results.prepare_result``)."""

    argument_spec = {}
    module_kwargs = {}
    # Modules with a ``state`` option say beside argument_spec which option is valid in which state:
    # ``{option: states}`` for every option (see ``_validate.misplaced_options_problem``). An option set
    # in another state is refused, naming it, before any request; a module whose documentation says
    # such options are ignored sets ``refuse_misplaced_options = False``.
    option_states = None
    refuse_misplaced_options = True

    def __init__(self):
        spec = common_argument_spec()
        spec.update(self.argument_spec)
        self.module = _SecretAwareModule(argument_spec=spec, supports_check_mode=True, **self.module_kwargs)
        if not HAS_REQUESTS:
            self.module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self.diff_mode = self.module._diff
        self.result = {"changed": False}
        self.client = self._build_client()

    def _build_client(self):
        p = self.params
        problem = client_settings_problem(p)
        if problem:
            self.fail(problem)
        return client_from_settings(p, "ansible-core/%s" % ANSIBLE_VERSION, self.module.debug)

    # ------------------------------------------------------------------ results

    def report_rate_limit(self):
        """With -v, say in the result when and why the task waited for the rate limit."""
        pacer = getattr(getattr(self, "client", None), "pacer", None)
        if self.module._verbosity >= 1 and pacer is not None:
            self.result["rate_limit"] = pacer.summary()

    def fail(self, msg, **kwargs):
        self.report_rate_limit()
        result = dict(self.result)
        result.update(kwargs)
        self.module.fail_json(msg=msg, **prepare_result(result))

    def fail_api(self, err, action=None, hint=None):
        """Fail for ``err`` (a :class:`PagesError`: an API call or an upload): ``"<action> failed:
        <err>. <hint>"``, with the API's ``status`` and ``errors``. A rejected credential adds which
        one was used and the permission the task needs."""
        msg = str(err)
        if action:
            msg = "%s failed: %s" % (action, msg)
        if err.status in (401, 403) or err.has_code(*AUTH_CODES):
            msg += (
                ". The request was authenticated with %s for account %s; check that the credential is valid "
                "and grants 'Cloudflare Pages: Edit' (or 'Pages Read' for read-only tasks) on that account."
                % (self.client.describe_credentials(), self.params["account_id"])
            )
        advice = self.advice(err)
        if advice:
            msg += ". " + advice
        if hint:
            msg += ". " + hint
        self.fail(msg, exception=traceback.format_exc(), **err.to_result())

    # ------------------------------------------------------------------ errors users meet

    def advice(self, err):
        """What is happening and what to do, for API answers whose own text does not say it (the one
        mapping of them: ``_errors``): the anti-abuse cooldown on creating projects, and a project
        "not found" that may be in another account. None for any other error."""
        if is_create_cooldown(err):
            return create_cooldown_advice()
        if err.has_code(PROJECT_NOT_FOUND):
            name = project_in_path(err) or self.params.get("project_name") or "the project"
            return project_not_found_advice(name, self.params["account_id"], *self.visible_projects())
        return None

    def visible_projects(self, limit=20):
        """``(names, more)``: the first ``limit`` project names the credential sees in the account (None when
        they cannot be read), and whether there are more. Read only to explain a missing project."""
        try:
            names = [p.get("name") for p in self.client.list_projects(limit=limit + 1) if isinstance(p, dict)]
        except PagesError:
            return None, False
        return names[:limit], len(names) > limit

    def missing_project_message(self, name, lead=None):
        """``lead`` (default: "Project NAME does not exist in account ID.") and what to check when the
        project exists after all: another account, a conversion to Workers."""
        account = self.params["account_id"]
        lead = lead or "Project %r does not exist in account %s." % (name, account)
        return "%s %s" % (lead, project_not_found_advice(name, account, *self.visible_projects()))

    def debug(self, line):
        """One line for ``-vvv`` (the engine's progress): never a secret, as every line the collection logs."""
        self.module.debug(line)

    def _mark_as_changed(self, changed=True):
        """Say whether the task changes (or, in check mode, would change) something: the one writer of
        the result's ``changed`` (hcloud's name). ``changed=False`` takes it back, e.g. when a delete
        found the object already gone or another run created it first."""
        self.result["changed"] = bool(changed)

    def set_diff(self, before, after):
        """The task's diff (in diff mode): :func:`_compare.build_diff` of two plain objects, None
        for "does not exist"; :data:`_compare.NEW_OBJECT` stands for what only a real run creates."""
        if self.diff_mode:
            self.result["diff"] = build_diff(before, after)

    def check_option_states(self):
        """Fail when the task sets an option that ``option_states`` does not allow in its state."""
        if not self.option_states or not self.refuse_misplaced_options:
            return
        problem = misplaced_options_problem(self.params, self.argument_spec, self.option_states, self.params["state"])
        if problem:
            self.fail(problem)

    def execute(self):
        raise NotImplementedError

    def run(self):
        try:
            self.check_option_states()
            self.execute()
        except PagesError as err:
            self.fail_api(err)
        self.report_rate_limit()
        self.module.exit_json(**prepare_result(self.result))
