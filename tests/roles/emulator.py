"""Start and stop a Pages API emulator (tests/emulator/serve.py) in the background.

    emulator.py start --state STATE.json --data-dir DIR [-- SERVE_ARGS...]
    emulator.py stop --state STATE.json
    emulator.py env --state STATE.json      # print export lines for the CLOUDFLARE_* variables

``start`` runs serve.py with this interpreter (it needs aiohttp) in a session of its own, waits
until it prints its URL and answers /__emulator/health, and writes STATE.json:
``{"pid", "base_url", "root_url", "token", "account", "log"}``. ``stop`` ends that process group.
Used by the molecule scenario (create/destroy), the runner stage of tests/run.sh and tests/demo.sh.
The development credentials are used unless SERVE_ARGS give --token.
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


def start(args):
    state = Path(args.state)
    data = Path(args.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    log = state.with_suffix(".log")
    extra = list(args.serve_args)
    if extra and extra[0] == "--":
        extra = extra[1:]
    token, account = DEV_TOKEN, DEV_ACCOUNT
    for i, a in enumerate(extra):
        if a == "--token" and i + 1 < len(extra):
            token, account = extra[i + 1].split("=", 1)
    if not SERVE.is_file():
        sys.exit(f"emulator not found: {SERVE}")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(SERVE), "--host", "127.0.0.1", "--port", str(args.port),
             "--data-dir", str(data), *extra],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    base_url = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        for word in text.split():
            if word.startswith("http://") and word.endswith("/client/v4"):
                base_url = word
        if base_url or proc.poll() is not None:
            break
        time.sleep(0.1)
    if not base_url:
        proc.kill()
        sys.exit("the emulator did not start:\n" + log.read_text(errors="replace"))
    root = base_url[: -len("/client/v4")]
    while True:
        try:
            with urllib.request.urlopen(root + "/__emulator/health", timeout=5) as r:
                if r.status == 200:
                    break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                sys.exit("the emulator is not healthy:\n" + log.read_text(errors="replace"))
        time.sleep(0.1)
    info = {"pid": proc.pid, "base_url": base_url, "root_url": root, "token": token, "account": account,
            "log": str(log), "data_dir": str(data)}
    state.write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info))


def stop(args):
    state = Path(args.state)
    if not state.is_file():
        print("no emulator state at %s: nothing to stop" % state)
        return
    pid = json.loads(state.read_text())["pid"]
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    for dummy in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        try:  # reap it when it is our child (it is not, normally)
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.1)
    else:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    state.unlink()
    print("emulator (pid %d) stopped" % pid)


def env(args):
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
    s.set_defaults(func=start)
    for name, func in (("stop", stop), ("env", env)):
        p = sub.add_parser(name)
        p.add_argument("--state", required=True)
        p.set_defaults(func=func)
    args = ap.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
