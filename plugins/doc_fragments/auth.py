# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The options every module of the collection accepts; set them once per play with
    # module_defaults and the group/cfpages.cloudflare.pages action group.
    DOCUMENTATION = r"""
options:
  api_token:
    description:
      - "A Cloudflare API token with the C(Cloudflare Pages: Edit) permission on the account
        (C(Pages Read) is enough for M(cfpages.cloudflare.pages_info))."
      - "Sent as C(Authorization: Bearer). Used when set, even if O(api_email) and O(api_key) are set too."
      - If not set, the value of the E(CLOUDFLARE_API_TOKEN) (or E(CF_API_TOKEN)) environment variable is used.
      - One of O(api_token) or O(api_email) + O(api_key) is required.
      - A value with surrounding whitespace (such as a trailing newline) or control characters is refused
        before any request, and so are O(api_key) and O(api_email) with them.
    type: str
  api_email:
    description:
      - The email address of the Cloudflare user whose global API key is O(api_key).
      - If not set, the value of the E(CLOUDFLARE_EMAIL) (or E(CF_EMAIL)) environment variable is used.
    type: str
  api_key:
    description:
      - The global API key of O(api_email), sent as C(X-Auth-Key) with C(X-Auth-Email).
      - If not set, the value of the E(CLOUDFLARE_API_KEY) (or E(CF_API_KEY)) environment variable is used.
    type: str
  account_id:
    description:
      - The Cloudflare account id (32 hexadecimal characters) that owns the Pages projects. Anything else is
        refused before any request.
      - If not set, the value of the E(CLOUDFLARE_ACCOUNT_ID) (or E(CF_ACCOUNT_ID)) environment variable is used.
    type: str
    required: true
  api_base_url:
    description:
      - The base URL of the Cloudflare API, including the C(/client/v4) prefix.
      - Point it at the collection's emulator to test playbooks without Cloudflare.
      - A URL at which nothing answers (HTTP 404 without a Pages not-found code, or Cloudflare's route miss
        7003) fails the task with that URL; it is never taken to mean that a project, deployment or domain
        does not exist.
      - If not set, the value of the E(CLOUDFLARE_API_BASE_URL) (or E(CF_API_BASE_URL)) environment variable is used,
        and then the default.
    type: str
    default: https://api.cloudflare.com/client/v4
  timeout:
    description:
      - Seconds to wait for each HTTP response before the request counts as failed (and is retried). More than
        V(0), a finite number.
    type: float
    default: 30
  max_retries:
    description:
      - How many times a failed request is retried. Connection errors, timeouts, HTTP 408, 429 and 5xx, and
        Cloudflare's transient error codes (971, 8000000, 10046) are retried with exponential backoff and jitter,
        honouring C(Retry-After). Other errors are reported at once. V(0) or more.
      - A request that creates something is re-sent after an ambiguous failure only when a look-up shows
        that the first try did not create it.
    type: int
    default: 5
  retry_max_wait:
    description:
      - The most seconds one request may spend waiting between retries of connection errors, timeouts,
        HTTP 408 and 5xx and Cloudflare's transient codes, in total. V(0) or more, a finite number.
      - Waits for the rate limit (HTTP 429, code 971) do not count here, nor against O(max_retries);
        O(rate_limit_budget) bounds them.
    type: float
    default: 120
  rate_limit_budget:
    description:
      - The most seconds the whole task may spend waiting for Cloudflare's API rate limit, in total.
      - Cloudflare allows 1,200 requests per 5 minutes per user (all tokens, keys and the dashboard together)
        and then answers every call with HTTP 429 for the next 5 minutes. The modules pace themselves from
        the C(Ratelimit) and C(Ratelimit-Policy) headers of each response (from that documented limit when
        there are none). Requests go out at once while the current window has room and wait for the window
        to reset when it has not; after a 429 they wait what C(Retry-After) says.
      - A wait that does not fit in what is left of the budget is not started; the task fails at once and says
        why. A prune (M(cfpages.cloudflare.pages_deployment) with O(cfpages.cloudflare.pages_deployment#module:state=pruned))
        or a forced project deletion reports what it deleted before it stopped, and running the task again resumes.
      - The default covers one full 5-minute block plus one more window. Raise it for bulk work of more than about
        3,000 requests (each deletion is one request, each page of a list another); every 5-minute window admits about 1,140.
      - With C(-v) the result has C(rate_limit) with every wait (when and why), the seconds waited and the
        budget left.
    type: float
    default: 600
  validate_certs:
    description:
      - Whether to verify the API's TLS certificate. Only turn this off for a test endpoint.
    type: bool
    default: true
requirements:
  - requests >= 2.25
notes:
  - "All modules of the collection are in the action group C(cfpages.cloudflare.pages), so credentials can be set
    once per play with C(module_defaults: {group/cfpages.cloudflare.pages: {...}})."
  - Secrets (O(api_token), O(api_key), secret environment variable values) are never returned, logged or shown in diffs.
  - "The rate limit is per user, so tasks that run at the same time (forks, several hosts, C(async)) share it.
    Each module sees what the others spent in the C(Ratelimit) header and keeps a reserve, but for bulk work
    run one such task at a time (C(throttle: 1), C(serial: 1), or C(run_once: true) with one host)."
seealso:
  - name: Cloudflare Pages REST API
    description: The API these modules call.
    link: https://developers.cloudflare.com/api/resources/pages/
  - name: Create an API token
    description: How to create a token with the Cloudflare Pages permission.
    link: https://developers.cloudflare.com/fundamentals/api/get-started/create-token/
"""
