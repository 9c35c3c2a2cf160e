# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Interrupt a pages_deployment upload with SIGINT once its first bucket is stored.

    interrupt_upload.py EMULATOR_URL PLAYBOOK WORKDIR

Runs ``ansible-playbook PLAYBOOK`` (which registers the task's result and writes it to
WORKDIR/result.json), waits until the emulator has answered one POST /pages/assets/upload,
then sends SIGINT to the module's own process (a descendant of the playbook whose command line
runs AnsiballZ_pages_deployment), and waits for the playbook to end.

Prints JSON: {"signalled": bool, "module_exit_seconds": seconds from the signal until the module
process was gone, "uploads_at_signal": upload requests of this run logged then, "result": the registered
result, "rc": the playbook's exit status}.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request


def request_log(emulator_url):
    with urllib.request.urlopen(emulator_url + "/__emulator/requests", timeout=10) as response:
        return json.load(response)


def uploads(emulator_url, start):
    """The upload requests logged since the log had ``start`` entries."""
    return [e for e in request_log(emulator_url)[start:] if e["path"].endswith("/pages/assets/upload")]


def children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def module_pid(root):
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                cmdline = handle.read()
        except OSError:
            cmdline = b""
        if pid != root and b"AnsiballZ_pages_deployment" in cmdline and b"python" in cmdline.split(b"\0")[0]:
            return pid
        todo.extend(children(pid))
    return None


def main(emulator_url, playbook, workdir):
    start = len(request_log(emulator_url))
    ansible_playbook = shutil.which("ansible-playbook") or os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    proc = subprocess.Popen([ansible_playbook, playbook], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = {"signalled": False, "module_exit_seconds": None, "uploads_at_signal": None}
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if any(e["status"] == 200 for e in uploads(emulator_url, start)):
                pid = module_pid(proc.pid)
                if pid is not None:
                    os.kill(pid, signal.SIGINT)
                    signalled_at = time.monotonic()
                    out["signalled"] = True
                    out["uploads_at_signal"] = len(uploads(emulator_url, start))
                    while os.path.exists("/proc/%d" % pid) and time.monotonic() < deadline:
                        try:
                            with open("/proc/%d/stat" % pid) as handle:
                                if handle.read().rsplit(")", 1)[1].split()[0] == "Z":
                                    break
                        except OSError:
                            break
                        time.sleep(0.02)
                    out["module_exit_seconds"] = round(time.monotonic() - signalled_at, 2)
                    break
            time.sleep(0.02)
        output = proc.communicate(timeout=max(1, deadline - time.monotonic()))[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out["rc"] = proc.returncode
    out["output_tail"] = output.decode("utf-8", "replace").splitlines()[-15:]
    try:
        with open(os.path.join(workdir, "result.json")) as handle:
            out["result"] = json.load(handle)
    except (OSError, ValueError):
        out["result"] = None
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:4])
