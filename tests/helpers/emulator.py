"""Start and stop a Pages API emulator (tests/emulator/serve.py) in the background.

The one launcher every test stage uses (the integration runs and the noxfile, the molecule
scenario, the AWX runner stage, tests/demo.sh and the upload benchmark). From Python::

    info = emulator.start(state, data_dir, ["--token", "TOKEN=ACCOUNT"], python=...)
    emulator.stop(state)

From a shell or a playbook::

    emulator.py start --state STATE.json --data-dir DIR [-- SERVE_ARGS...]
    emulator.py stop --state STATE.json
    emulator.py env --state STATE.json      # print export lines for the CLOUDFLARE_* variables

``start`` runs serve.py (with ``python``, default this interpreter: it needs aiohttp) in a session
of its own, waits until it prints its URL and answers /__emulator/health, and writes STATE.json:
``{"pid", "base_url", "root_url", "token", "account", "log", "data_dir"}``. ``stop`` ends that
process group. The development credentials are used unless SERVE_ARGS give --token (the first
--token is the one written to STATE.json).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVE = HERE.parent / "emulator" / "serve.py"
DEV_TOKEN = "cfpages-emulator-dev-token-7c1f3a9e"
DEV_ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"


class EmulatorError(RuntimeError):
    """The emulator did not start or did not become healthy (the message includes its log)."""


def _first_token(serve_args):
    for i, arg in enumerate(serve_args):
        if arg == "--token" and i + 1 < len(serve_args):
            return tuple(serve_args[i + 1].split("=", 1))
    return DEV_TOKEN, DEV_ACCOUNT


def _wait_for_url(proc, log, deadline):
    while time.monotonic() < deadline:
        for word in log.read_text(errors="replace").split():
            if word.startswith("http://") and word.endswith("/client/v4"):
                return word
        if proc.poll() is not None:
            return None
        time.sleep(0.1)
    return None


def _healthy(root, deadline):
    while True:
        try:
            with urllib.request.urlopen(root + "/__emulator/health", timeout=5) as response:
                if response.status == 200:
                    return True
        except OSError:
            if time.monotonic() > deadline:
                return False
        time.sleep(0.1)


def start(state, data_dir, serve_args=(), port=0, python=None, timeout=30):
    """Start serve.py, wait until it is healthy, write and return its state (see the module doc)."""
    state, data = Path(state), Path(data_dir)
    data.mkdir(parents=True, exist_ok=True)
    state.parent.mkdir(parents=True, exist_ok=True)
    log = state.with_suffix(".log")
    serve_args = list(serve_args)
    token, account = _first_token(serve_args)
    if not SERVE.is_file():
        raise EmulatorError(f"emulator not found: {SERVE}")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [python or sys.executable, str(SERVE), "--host", "127.0.0.1", "--port", str(port),
             "--data-dir", str(data), *serve_args],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    deadline = time.monotonic() + timeout
    try:
        base_url = _wait_for_url(proc, log, deadline)
        if not base_url:
            raise EmulatorError("the emulator did not start:\n" + log.read_text(errors="replace"))
        root = base_url[: -len("/client/v4")]
        if not _healthy(root, deadline):
            raise EmulatorError("the emulator is not healthy:\n" + log.read_text(errors="replace"))
    except BaseException:  # also Ctrl-C (or SIGTERM, see _cli_start): there is no state file yet to stop it with
        _end(proc.pid)
        raise
    info = {"pid": proc.pid, "base_url": base_url, "root_url": root, "token": token, "account": account,
            "log": str(log), "data_dir": str(data)}
    state.write_text(json.dumps(info, indent=2) + "\n")
    return info


def _end(pid):
    """SIGTERM the process group of pid, then SIGKILL it after 5 s."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for dummy in range(50):
        try:  # reap it when it is our child
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop(state):
    """Stop the emulator STATE.json describes; return its pid, or None when there was none."""
    state = Path(state)
    if not state.is_file():
        return None
    pid = json.loads(state.read_text())["pid"]
    _end(pid)
    state.unlink()
    return pid


def _cli_start(args):
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))  # so that start() ends the emulator
    extra = list(args.serve_args)
    if extra and extra[0] == "--":
        extra = extra[1:]
    try:
        info = start(args.state, args.data_dir, extra, port=args.port)
    except EmulatorError as err:
        sys.exit(str(err))
    print(json.dumps(info))


def _cli_stop(args):
    pid = stop(args.state)
    if pid is None:
        print("no emulator state at %s: nothing to stop" % args.state)
    else:
        print("emulator (pid %d) stopped" % pid)


def _cli_env(args):
    info = json.loads(Path(args.state).read_text())
    print(f"export CLOUDFLARE_API_BASE_URL={info['base_url']}")
    print(f"export CLOUDFLARE_API_TOKEN={info['token']}")
    print(f"export CLOUDFLARE_ACCOUNT_ID={info['account']}")
    print(f"export CFPAGES_EMULATOR_URL={info['root_url']}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start")
    s.add_argument("--state", required=True)
    s.add_argument("--data-dir", required=True)
    s.add_argument("--port", type=int, default=0)
    s.add_argument("serve_args", nargs=argparse.REMAINDER)
    s.set_defaults(func=_cli_start)
    for name, func in (("stop", _cli_stop), ("env", _cli_env)):
        p = sub.add_parser(name)
        p.add_argument("--state", required=True)
        p.set_defaults(func=func)
    args = ap.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
