# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""SIGINT during a long step (an upload): a flag the step checks between units of work.

A module started by Ansible inherits SIGINT as *ignored* (the controller's worker processes
ignore it, and Python keeps an inherited ``SIG_IGN``), so on Ctrl-C the module would carry on
alone and upload every remaining bucket. While :class:`SigintFlag` is entered, SIGINT sets the
flag instead; the step stops starting new work, aborts request bodies being streamed, and fails
with a message saying a re-run resumes. The previous handler is restored afterwards.
"""

from __future__ import annotations

import signal
import threading


class SigintFlag:
    """``with SigintFlag() as flag:`` ... ``flag.is_set()``. Outside the main thread (where no
    handler can be installed) it is a plain flag that only :meth:`set` raises."""

    def __init__(self):
        self._event = threading.Event()
        self._previous = None
        self._installed = False

    def _handle(self, signum, frame):  # pylint: disable=unused-argument
        self._event.set()

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc_info):
        if self._installed:
            signal.signal(signal.SIGINT, self._previous if self._previous is not None else signal.SIG_DFL)
            self._installed = False
        return False

    def set(self):
        self._event.set()

    def is_set(self):
        return self._event.is_set()
