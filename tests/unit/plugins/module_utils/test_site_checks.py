# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of the site checks made before a deploy changes anything, and of the SIGINT flag."""

from __future__ import annotations

import os
import signal

from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload import site_checks as C
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.interrupt import SigintFlag


class File:
    def __init__(self, path):
        self.path = path


class Scan:
    def __init__(self, paths=(), special=()):
        self.files = [File(p) for p in paths]
        self.special = dict((name, "/src/" + name) for name in special)


def live(message):
    return {"id": "live-1", "deployment_trigger": {"metadata": {"commit_message": message}}}


def test_control_characters_are_an_error_backslashes_a_warning():
    error, warnings = C.file_name_problems(Scan(["/ok.html", "/two\nlines.html", "/tab\there", "/back\\slash.css"]))
    assert "/two\\nlines.html" in error and "/tab\\there" in error and "exclude" in error
    assert "ok.html" not in error and "slash" not in error
    assert len(warnings) == 1 and "/back\\slash.css" in warnings[0] and "%5C" in warnings[0]
    assert C.file_name_problems(Scan(["/a.html", "/b/c.txt"])) == (None, [])


def test_many_names_are_cut():
    error, _warnings = C.file_name_problems(Scan(["/n%02d\n" % i for i in range(30)]))
    assert error.count("\\n") == C.NAMES_LISTED and "and 10 more" in error


def test_printable_path():
    assert C.printable_path("/a\x1bb\r\x7f") == "/a\\x1bb\\r\\x7f"


def test_empty_site():
    assert C.is_empty_site(Scan())
    assert C.is_empty_site(Scan(special=["_headers", "_redirects", "_routes.json"]))
    assert not C.is_empty_site(Scan(), has_worker=True)
    assert not C.is_empty_site(Scan(["/a.txt"]))
    assert "allow_empty: true" in C.empty_site_message("/srv/site") and "/srv/site" in C.empty_site_message("/srv/site")


def test_lost_index_warning_only_for_production_losing_a_recorded_index():
    with_index = live("Build 7\n\n%s\ncfpages-digest: %s" % (C.INDEX_MARKER, "0" * 32))
    without = live("Build 6\n\ncfpages-digest: %s" % ("0" * 32))
    no_index = Scan(["/about.html"])
    warning = C.lost_index_warning(no_index, with_index, production=True)
    assert warning is not None and "live-1" in warning and "/index.html" in warning
    assert C.lost_index_warning(no_index, with_index, production=False) is None
    assert C.lost_index_warning(no_index, without, production=True) is None
    assert C.lost_index_warning(no_index, None, production=True) is None
    assert C.lost_index_warning(Scan(["/index.html"]), with_index, production=True) is None
    assert C.lost_index_warning(Scan(special=["_worker.js"]), with_index, production=True) is None
    assert not C.deployment_had_root_index(live("x %s" % C.INDEX_MARKER))  # only as a line of its own


def test_sigint_sets_the_flag_and_the_handler_is_restored():
    before = signal.getsignal(signal.SIGINT)
    with SigintFlag() as flag:
        assert not flag.is_set()
        os.kill(os.getpid(), signal.SIGINT)
        assert flag.is_set()
    assert signal.getsignal(signal.SIGINT) is before


def test_inherited_ignore_is_overridden_while_entered():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with SigintFlag() as flag:
            os.kill(os.getpid(), signal.SIGINT)
            assert flag.is_set()
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
