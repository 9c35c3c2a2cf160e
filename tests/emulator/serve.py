#!/usr/bin/env python3
"""Start the Cloudflare Pages API emulator. See tests/emulator/README.md for every flag."""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from aiohttp import web  # noqa: E402

from pages_emulator import DEV_ACCOUNT, DEV_EMAIL, DEV_KEY, DEV_TOKEN  # noqa: E402
from pages_emulator.app import Emulator, make_app  # noqa: E402
from pages_emulator.model import Config, Credentials  # noqa: E402
from pages_emulator.ratelimit import format_spec, parse_spec  # noqa: E402


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description="Local emulator of the Cloudflare Pages API")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8787, help="0 picks a free port")
    ap.add_argument("--data-dir", required=True, help="SQLite state + asset files (created if missing)")
    ap.add_argument("--token", action="append", default=[], metavar="TOKEN=ACCOUNT_ID",
                    help="accept this API token for that account (repeatable)")
    ap.add_argument("--key", action="append", default=[], metavar="EMAIL:GLOBAL_KEY=ACCOUNT_ID",
                    help="accept this X-Auth-Email + X-Auth-Key pair for that account (repeatable)")
    ap.add_argument("--fault-rate", type=float, default=0.0,
                    help="fraction of API requests answered with a fault (0..1)")
    ap.add_argument("--fault-seed", type=int, default=None, help="seed for the fault generator")
    ap.add_argument("--jwt-ttl", type=float, default=300.0, help="upload JWT lifetime in seconds")
    ap.add_argument("--build-seconds", type=float, default=5.0,
                    help="duration of a git build (queued -> deploy)")
    ap.add_argument("--domain-seconds", type=float, default=2.0,
                    help="time a custom domain takes from initializing to active/error")
    ap.add_argument("--max-file-count", type=int, default=20000,
                    help="files allowed per deployment (also the JWT max_file_count_allowed claim)")
    ap.add_argument("--prefix", default="/client/v4",
                    help="path prefix of the API (the printed base URL ends with it)")
    ap.add_argument("--project-delete-limit", type=int, default=100,
                    help="refuse to delete projects with more deployments than this (0 = never)")
    ap.add_argument("--rate-limit", default=None, metavar="N/SECONDS",
                    help="allow N API requests per SECONDS per credential, then answer 429 for SECONDS "
                         "(Cloudflare's is 1200/300; default: no limit)")
    ap.add_argument("--workerd", default=None, metavar="PATH",
                    help="workerd binary that runs deployments' workers (default: "
                         "tests/emulator/node_modules/.bin/workerd; 'none' = do not run workers)")
    ap.add_argument("--bandwidth", type=float, default=0.0, metavar="BYTES_PER_S",
                    help="read asset upload bodies at this rate, shared by concurrent uploads as one link "
                         "(default 0: unlimited; also 'bandwidth' in POST /__emulator/config)")
    ap.add_argument("--request-timeout", type=float, default=300.0, metavar="SECONDS",
                    help="answer an API request still unanswered after this long with a 524 and close its "
                         "connection (default 300; 0: no limit; also 'request_timeout' in POST /__emulator/config)")
    args = ap.parse_args(argv)
    try:
        rate_limit = format_spec(parse_spec(args.rate_limit))
    except ValueError as e:
        ap.error(f"--rate-limit: {e}")
    for flag, value in (("--bandwidth", args.bandwidth), ("--request-timeout", args.request_timeout)):
        if value < 0:
            ap.error(f"{flag} must be 0 (none) or more")
    if not 0.0 <= args.fault_rate <= 1.0:
        ap.error("--fault-rate must be between 0 and 1")
    creds = Credentials()
    for spec in args.token:
        token, sep, account = spec.rpartition("=")
        if not sep or not token or not account:
            ap.error(f"--token {spec!r}: expected TOKEN=ACCOUNT_ID")
        if not re.fullmatch(r"[A-Za-z0-9._~+/-]+", token):
            ap.error(f"--token {spec!r}: token may only contain A-Z a-z 0-9 . _ ~ + / -")
        creds.tokens[token] = account
    for spec in args.key:
        pair, sep, account = spec.rpartition("=")
        email, colon, key = pair.partition(":")
        if not sep or not colon or not account or "@" not in email:
            ap.error(f"--key {spec!r}: expected EMAIL:GLOBAL_KEY=ACCOUNT_ID")
        if not re.fullmatch(r"[0-9a-f]{37}", key):
            ap.error(f"--key {spec!r}: a global API key is 37 lowercase hex characters")
        creds.keys[(email.lower(), key)] = account
    if not creds.tokens and not creds.keys:
        creds.tokens[DEV_TOKEN] = DEV_ACCOUNT
        creds.keys[(DEV_EMAIL, DEV_KEY)] = DEV_ACCOUNT
    config = Config(fault_rate=args.fault_rate, fault_seed=args.fault_seed, jwt_ttl=args.jwt_ttl,
                    build_seconds=args.build_seconds, domain_seconds=args.domain_seconds,
                    max_file_count=args.max_file_count, project_delete_limit=args.project_delete_limit,
                    rate_limit=rate_limit, bandwidth=args.bandwidth, request_timeout=args.request_timeout)
    return args, config, creds


async def main(argv=None):
    args, config, creds = parse_args(argv)
    os.makedirs(args.data_dir, exist_ok=True)
    emulator = Emulator(args.data_dir, config, creds, prefix=args.prefix, workerd=args.workerd)
    runner = web.AppRunner(make_app(emulator), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    port = runner.addresses[0][1]
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    if ":" in host:
        host = f"[{host}]"
    emulator.base_url = f"http://{host}:{port}{emulator.prefix}"
    emulator.workers.emulator_address = f"{host}:{port}"
    emulator.workers.resume()
    print(f"Cloudflare Pages API emulator listening on {emulator.base_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    emulator.workers.shutdown()
    await runner.cleanup()
    emulator.store.close()


if __name__ == "__main__":
    asyncio.run(main())
