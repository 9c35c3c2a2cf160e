#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pages_domain
short_description: Add and remove custom domains of a Cloudflare Pages project, and wait until they are active
version_added: 0.1.0
description:
  - Adds a custom domain to a Pages project, or removes it. The domain's name is its identity, so running
    the task again changes nothing.
  - With O(wait=true) (the default), waits until Cloudflare reports the domain C(active). When validation
    fails (status C(error) or C(deactivated)), retries validation once and, if it fails again, fails the task
    with the domain's C(validation_data) and C(verification_data) and what to do about it.
  - Returns the domain with its C(status), C(validation_data) (C(method), C(txt_name), C(txt_value)),
    C(verification_data), C(certificate_authority) and C(zone_tag), so a following task can create the DNS record.
  - Does not create DNS records. For a domain in a zone of the same Cloudflare account, point a C(CNAME) at the
    project's C(pages.dev) subdomain (for example with M(community.general.cloudflare_dns)); for other domains
    follow RV(domain.validation_data).
author:
  - cfpages maintainers (@cfpages)
extends_documentation_fragment:
  - cfpages.cloudflare.auth
  - cfpages.cloudflare.attributes
options:
  project_name:
    description:
      - The Pages project.
      - With O(state=present), a project that does not exist fails the task; with O(state=absent) it means
        there is nothing to remove.
    type: str
    required: true
  name:
    description:
      - The custom domain, a hostname such as V(www.example.com) or V(example.com).
      - Compared case-insensitively and without a trailing dot; an internationalised name is sent in its
        ASCII (punycode) form. Wildcards and C(pages.dev) hostnames are refused.
      - Refused before any request unless it is a public hostname of two or more labels of 1 to 63 letters, digits
        and C(-) (not at either end of a label), at most 253 characters, and not an IP address.
    type: str
    required: true
    aliases: [domain]
  state:
    description:
      - V(present) adds the domain when the project does not have it yet; V(absent) removes it when it does.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description:
      - With O(state=present), wait until the domain's C(status) is C(active).
      - On C(error) or C(deactivated), validation is retried once (this counts as a change); if the domain
        fails again, or is C(blocked), the task fails.
      - Set it to V(false) when the DNS record that validation needs is created by a later task; add the
        domain first, create the record from RV(domain), then run this module again with O(wait=true).
      - Not waited on in check mode.
      - Ignored with O(state=absent).
    type: bool
    default: true
  wait_timeout:
    description:
      - The most seconds to wait for C(active) when O(wait=true); the task fails after that with the current
        status and validation data.
      - Certificate issuance usually takes a few minutes, and longer when DNS records were just changed.
      - Ignored with O(state=absent).
    type: int
    default: 600
notes:
  - Check mode makes no changing request. When the domain would be added, RV(domain) contains only its C(name).
  - The diff shows the domain's C(project_name), C(name) and C(status) before and after.
seealso:
  - module: cfpages.cloudflare.pages_project
  - module: cfpages.cloudflare.pages_info
  - name: Custom domains of Pages projects
    description: How Cloudflare validates custom domains, and the DNS records they need.
    link: https://developers.cloudflare.com/pages/configuration/custom-domains/
"""

EXAMPLES = r"""
- name: Add www.example.com to my-site and wait until it is active
  cfpages.cloudflare.pages_domain:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    project_name: my-site
    name: www.example.com
  register: www

- name: Show how Cloudflare validated it
  ansible.builtin.debug:
    msg: "{{ www.domain.status }} via {{ www.domain.validation_data.method }} (CA {{ www.domain.certificate_authority }})"

- name: Add a domain without waiting, to create its DNS record first
  cfpages.cloudflare.pages_domain:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    project_name: my-site
    name: docs.example.com
    wait: false
  register: docs

- name: The TXT record Cloudflare asks for, when it validates by TXT
  ansible.builtin.debug:
    msg: "{{ docs.domain.validation_data.txt_name | default('') }} TXT {{ docs.domain.validation_data.txt_value | default('') }}"

- name: Now wait for it, at most five minutes
  cfpages.cloudflare.pages_domain:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    project_name: my-site
    name: docs.example.com
    wait_timeout: 300

- name: Remove a domain from the project
  cfpages.cloudflare.pages_domain:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    project_name: my-site
    name: old.example.com
    state: absent
"""

RETURN = r"""
domain:
  description:
    - The custom domain as the API returns it, after waiting when O(wait=true).
    - With O(state=absent), the domain as it was before it was removed, or an empty dict when there was none.
    - In check mode, when the domain would be added, only C(name).
  returned: always
  type: dict
  sample:
    id: 8232210c-6f69-4b4d-a2c9-1f0e3d1f7a6b
    name: www.example.com
    status: active
    certificate_authority: google
    created_on: "2026-01-05T10:12:37.662510Z"
    domain_id: 41ef5bc7-2f3c-4cb8-a8d1-64d0f5d5a3b1
    zone_tag: 023e105f4ecef8ad9ca31a8372d0c353
    validation_data: {method: http, status: active}
    verification_data: {status: active}
  contains:
    name:
      description: The domain.
      type: str
    status:
      description: One of V(initializing), V(pending), V(active), V(deactivated), V(blocked), V(error).
      type: str
    validation_data:
      description:
        - How the certificate is validated, C(method) (V(http) or V(txt)), and its C(status).
        - With method V(txt), C(txt_name) and C(txt_value) are the TXT record to create.
        - C(error_message) when validation failed.
      type: dict
    verification_data:
      description: Whether the hostname points at the project, C(status) and C(error_message).
      type: dict
    certificate_authority:
      description: V(google) or V(lets_encrypt).
      type: str
    zone_tag:
      description: The id of the Cloudflare zone the domain belongs to.
      type: str
validation_retried:
  description: Whether validation was retried (a C(PATCH) of the domain) because it had failed.
  returned: when O(state=present) and O(wait=true)
  type: bool
  sample: false
"""

from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import PagesAPIError
from ansible_collections.cfpages.cloudflare.plugins.module_utils._base import PagesModule
from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.poll import MISSING, TIMEOUT, poll_until
from ansible_collections.cfpages.cloudflare.plugins.module_utils._validate import hostname_problem, project_name_problem

DOMAIN_UNAVAILABLE = 8000018

# Statuses after which one validation retry is worth it, and the ones no retry can fix.
RETRYABLE = ("error", "deactivated")
HOPELESS = ("blocked",)

POLL_FIRST = 1.0
POLL_MAX = 10.0


def normalise_name(value):
    """(hostname, problem): lowercase, no trailing dot, ASCII; problem is a message or None."""
    name = (value or "").strip().rstrip(".").lower()
    if not name:
        return None, "name must be a hostname such as www.example.com."
    if any(char.isspace() for char in name):
        return None, "name must be a hostname such as www.example.com, without spaces or newlines (got %r)." % value
    if "://" in name or "/" in name or ":" in name or " " in name:
        return None, "name must be a hostname such as www.example.com, without scheme, port or path (got %r)." % value
    if "*" in name:
        return None, "Cloudflare Pages does not support wildcard custom domains (got %r)." % value
    try:
        name.encode("ascii")
    except UnicodeEncodeError:
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError as exc:
            return None, "name %r is not a valid internationalised domain name: %s" % (value, exc)
    if name == "pages.dev" or name.endswith(".pages.dev"):
        return None, (
            "%s is a pages.dev hostname, which every project has already; custom domains are your own "
            "domains (got %r)." % (name, value)
        )
    problem = hostname_problem(name)
    if problem:
        return None, problem
    return name, None


def summary(project_name, domain):
    """What the diff shows of a domain."""
    return {"project_name": project_name, "name": domain.get("name"), "status": domain.get("status")}


def record_advice(domain, subdomain):
    """What DNS record or access the domain's validation needs, in plain words."""
    name = domain.get("name")
    validation = domain.get("validation_data") or {}
    if validation.get("method") == "txt" and validation.get("txt_name"):
        return "Create a TXT record %s with the value %r (validation_data.txt_name / txt_value)." % (
            validation.get("txt_name"),
            validation.get("txt_value"),
        )
    target = subdomain or "the project's pages.dev subdomain"
    return (
        "Point a CNAME record for %s at %s (an apex domain must be a zone on Cloudflare), and make sure "
        "http://%s/.well-known/pki-validation/ is not blocked by Cloudflare Access, a Worker, a WAF rule or a "
        "redirect." % (name, target, name)
    )


def error_details(domain):
    texts = []
    for key in ("validation_data", "verification_data"):
        message = (domain.get(key) or {}).get("error_message")
        if message and message not in texts:
            texts.append(message)
    return " ".join(texts)


class PagesDomain(PagesModule):
    argument_spec = dict(
        project_name=dict(type="str", required=True),
        name=dict(type="str", required=True, aliases=["domain"]),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=600),
    )
    # Which option is valid in which state. wait and wait_timeout are ignored with state=absent (a
    # removal is not waited for), so that a task can flip state and keep the rest.
    option_states = dict(
        project_name=("present", "absent"),
        name=("present", "absent"),
        state=("present", "absent"),
        wait=("present",),
        wait_timeout=("present",),
    )
    refuse_misplaced_options = False

    def execute(self):
        p = self.params
        self.project_name = p["project_name"]
        self.result["domain"] = {}
        problem = project_name_problem(self.project_name)
        if problem:
            self.fail(problem)
        if p["wait_timeout"] < 0:
            self.fail("wait_timeout must be 0 or more seconds, not %d." % p["wait_timeout"])
        name, problem = normalise_name(p["name"])
        if problem:
            self.fail(problem)
        self.name = name
        self.current = None
        self.subdomain = None

        project = self.client.get_project(self.project_name)
        if project is None:
            if p["state"] == "absent":
                self._set_diff(None, None)
                return
            self.fail(self.missing_project_message(
                self.project_name,
                "Project %r does not exist in account %s; create it first (cfpages.cloudflare.pages_project)."
                % (self.project_name, p["account_id"]),
            ))
        self.subdomain = project.get("subdomain")
        current = self.client.get_domain(self.project_name, name)
        self.current = current
        if p["state"] == "absent":
            self.absent(current)
        else:
            self.present(current)

    # ------------------------------------------------------------------ state=absent

    def absent(self, current):
        if current is None:
            self._set_diff(None, None)
            return
        self._mark_as_changed()
        self.result["domain"] = current
        self._set_diff(current, None)
        if self.check_mode:
            return
        # Removed by someone else in between: absent is what was asked for.
        self.client.delete_domain(self.project_name, self.name, missing_ok=True)

    # ------------------------------------------------------------------ state=present

    def present(self, current):
        wait = self.params["wait"]
        if wait:
            self.result["validation_retried"] = False
        if current is None:
            if self.check_mode:
                self._mark_as_changed()
                self.result["domain"] = {"name": self.name}
                self._set_diff(None, {"name": self.name, "status": "initializing"})
                return
            domain = self._add()
            self._mark_as_changed()
        else:
            domain = current
            if self.check_mode:
                self.result["domain"] = domain
                if wait and domain.get("status") in RETRYABLE:
                    # A real run would retry validation.
                    self._mark_as_changed()
                    self._set_diff(domain, dict(domain, status="initializing"))
                else:
                    self._set_diff(domain, domain)
                return
        self.result["domain"] = domain
        if wait:
            domain = self.wait_active(domain)
        elif domain.get("status") in RETRYABLE + HOPELESS:
            self.module.warn(
                "Custom domain %s of project %r is %r. %s%s" % (
                    self.name, self.project_name, domain.get("status"),
                    (error_details(domain) + " ") if error_details(domain) else "",
                    record_advice(domain, self.subdomain),
                )
            )
        self._set_diff(current, domain)

    def _add(self):
        try:
            return self.client.add_domain(self.project_name, self.name)
        except PagesAPIError as err:
            hint = None
            if err.has_code(DOMAIN_UNAVAILABLE):
                hint = (
                    "The domain is already a custom domain of another Pages project, in this account or another "
                    "one (or in use by another Cloudflare product such as a Workers custom domain). Remove it there "
                    "first; cfpages.cloudflare.pages_info lists the domains of every project of this account."
                )
            self.fail_api(err, "Adding %s to project %r" % (self.name, self.project_name), hint)

    def wait_active(self, domain):
        """Poll until ``active``; retry validation once on failure; fail on a second failure or timeout."""
        retried = []

        def settled(domain):
            self.result["domain"] = domain
            status = domain.get("status")
            if status == "active":
                return True
            if status in HOPELESS:
                self._fail_validation(domain, "is %r" % status, bool(retried), hopeless=True)
            if status in RETRYABLE:
                if retried:
                    self._fail_validation(domain, "failed validation again (status %r)" % status, True)
                retried.append(True)
                self._mark_as_changed()
                self.result["validation_retried"] = True
                try:
                    patched = self.client.retry_domain_validation(self.project_name, self.name)
                except PagesAPIError as err:
                    self.fail_api(err, action="Retrying validation of %s" % self.name)
                # Whatever the PATCH answered, judge the domain by the next look.
                self.result["domain"] = patched or domain
            return False

        def refresh(_domain):
            return self.client.get_domain(self.project_name, self.name)

        timeout = self.params["wait_timeout"]
        domain, state = poll_until(domain, refresh, settled, timeout, interval=POLL_FIRST, max_interval=POLL_MAX, factor=2)
        if state == MISSING:
            self.fail(
                "Domain %s disappeared from project %r while waiting for it to become active "
                "(removed by someone else?)." % (self.name, self.project_name)
            )
        if state == TIMEOUT:
            self._fail_timeout(self.result["domain"], timeout, bool(retried))
        return domain

    def _failure_fields(self, domain):
        return dict(
            domain=domain,
            validation_data=domain.get("validation_data") or {},
            verification_data=domain.get("verification_data") or {},
        )

    def _fail_validation(self, domain, what, retried, hopeless=False):
        details = error_details(domain)
        msg = "Custom domain %s of project %r %s." % (self.name, self.project_name, what)
        if details:
            msg += " Cloudflare says: %s" % details
        if hopeless:
            msg += (
                " Cloudflare refuses to serve this hostname for Pages (for example a CAA record forbids the "
                "certificate authority %s, or the hostname is restricted); retrying does not help. Check the "
                "domain's DNS (CAA) records, or contact Cloudflare support." % (domain.get("certificate_authority") or "")
            )
        else:
            if retried:
                msg += " Validation was retried once and failed again."
            msg += " " + record_advice(domain, self.subdomain) + " Then run the task again."
        self._set_diff(self.current, domain)
        self.fail(msg, **self._failure_fields(domain))

    def _fail_timeout(self, domain, timeout, retried):
        msg = "Custom domain %s of project %r is still %r after %d seconds (wait_timeout)." % (
            self.name,
            self.project_name,
            domain.get("status"),
            timeout,
        )
        details = error_details(domain)
        if details:
            msg += " Cloudflare says: %s" % details
        if retried:
            msg += " Validation was retried once because it had failed."
        msg += (
            " " + record_advice(domain, self.subdomain) + " Raise wait_timeout, or set wait: false and check the "
            "status later with cfpages.cloudflare.pages_info."
        )
        self._set_diff(self.current, domain)
        self.fail(msg, **self._failure_fields(domain))

    # ------------------------------------------------------------------ diff

    def _set_diff(self, before, after):
        self.set_diff(
            summary(self.project_name, before) if before else None, summary(self.project_name, after) if after else None
        )


def main():
    PagesDomain().run()


if __name__ == "__main__":
    main()
