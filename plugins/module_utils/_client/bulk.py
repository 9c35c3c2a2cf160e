# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""Many API calls of one kind (deletions), a few at a time, inside the task's rate-limit budget.

All calls share one :class:`PagesClient` and so one pacer and one budget. When the budget is
spent (or the user presses Ctrl-C) no further call is started; the calls already under way
finish, and the caller learns exactly which items were done, which failed and which were never
attempted, so it can report them and a second run can resume.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import (
    BulkStopped,
    PagesAPIError,
    RateLimitBudgetSpent,
)

# Deletions in flight at once: enough to hide the round-trip time, few enough that a burst
# never overshoots the pacer's reserve.
BULK_WORKERS = 4


def run_bulk(items, action, workers=BULK_WORKERS, pacer=None):
    """Call ``action(item)`` for every item, ``workers`` at a time, starting them in order.

    Returns ``(done, failures)``: the items that succeeded, and ``(item, PagesAPIError)`` for those
    that failed, both in the order of ``items``. Raises :class:`BulkStopped` (with the same two
    lists and ``not_attempted``) when the rate-limit budget is spent or on KeyboardInterrupt;
    ``pacer`` (the client's) is then cancelled, so that no worker sits out a long wait.
    """
    items = list(items)
    stop = threading.Event()
    outcomes = [None] * len(items)  # None: not attempted; else ("done", None) / ("error", exc)
    stopped = []

    def one(index):
        if stop.is_set():
            return
        try:
            action(items[index])
        except RateLimitBudgetSpent as exc:
            stopped.append(exc)  # nothing was sent for this item
            stop.set()
            return
        except PagesAPIError as exc:
            outcomes[index] = ("error", exc)
            return
        outcomes[index] = ("done", None)

    pool = ThreadPoolExecutor(max_workers=max(1, int(workers)))
    try:
        futures = [pool.submit(one, index) for index in range(len(items))]
        for future in futures:
            future.result()
    except KeyboardInterrupt:
        stop.set()
        if pacer is not None:
            pacer.cancel()
        stopped.append(PagesAPIError("interrupted (Ctrl-C)", 0))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

    done = [items[i] for i, outcome in enumerate(outcomes) if outcome and outcome[0] == "done"]
    failures = [(items[i], outcome[1]) for i, outcome in enumerate(outcomes) if outcome and outcome[0] == "error"]
    if stopped:
        not_attempted = [items[i] for i, outcome in enumerate(outcomes) if outcome is None]
        cause = stopped[0]
        raise BulkStopped(str(cause), cause.status, done, failures, not_attempted)
    return done, failures
