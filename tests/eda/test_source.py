"""The event source cfpages.cloudflare.deployments against the emulator (loaded as ansible-rulebook loads it)."""
from __future__ import annotations

import asyncio
import json
import logging

import pytest

from emu_helpers import create_project, deploy, ok, post_deployment

SOURCE = {"type": "github", "config": {"owner": "acme", "repo_name": "web", "production_branch": "main"}}
SITE = {"/index.html": (b"<h1>hello</h1>", "text/html")}
SECRET_VALUE = "hunter2-secret-env-value-41d8"


def git_project(emu, name, build_command="npm run build"):
    return create_project(emu, name, "main", source=SOURCE,
                          build_config={"build_command": build_command, "destination_dir": "dist"},
                          deployment_configs={"production": {"env_vars": {
                              "API_SECRET": {"type": "secret_text", "value": SECRET_VALUE}}}})


def build(emu, project, branch="main"):
    return ok(post_deployment(emu, project, branch=branch))


def polled(emu, project):
    return any(r["method"] == "GET" and r["path"].endswith(f"/projects/{project}/deployments")
               for r in emu.requests_log())


async def wait_polled(emu, project, timeout=15):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not polled(emu, project):
        assert loop.time() < deadline, "the source did not poll"
        await asyncio.sleep(0.1)


def stages(events):
    return [(e["cfpages"]["deployment"]["stage"], e["cfpages"]["deployment"]["status"]) for e in events]


def assert_no_secret(emu, events, text=""):
    dumped = json.dumps(events) + text
    for secret in (*emu.secrets, SECRET_VALUE):
        assert secret not in dumped


def test_new_deployment_and_its_stage_changes(emu, run_source, caplog):
    caplog.set_level(logging.DEBUG)
    emu.config(build_seconds=5)
    git_project(emu, "web")
    old = deploy(emu, "web", SITE)  # exists before the source starts: not reported (emit_existing false)

    async def scenario():
        watch = await run_source(emu.creds(projects=["web"], interval=1))
        await wait_polled(emu, "web")
        new = build(emu, "web")
        last = await watch.until(lambda e: e["deployment"]["id"] == new["id"]
                                 and (e["deployment"]["stage"], e["deployment"]["status"]) == ("deploy", "success"))
        await watch.stop()
        return new, watch.events, last

    new, events, last = asyncio.run(scenario())
    assert old["id"] not in json.dumps(events)
    mine = [e for e in events if e["cfpages"]["deployment"]["id"] == new["id"]]
    first = mine[0]["cfpages"]
    assert first["project"] == "web"
    assert first["previous"] == {"stage": None, "status": None}
    assert first["deployment"] == {"id": new["id"], "short_id": new["short_id"], "environment": "production",
                                   "branch": "main", "stage": first["deployment"]["stage"],
                                   "status": first["deployment"]["status"], "url": new["url"],
                                   "outcome": "pending", "skip": None}
    assert last["cfpages"]["deployment"]["outcome"] == "success"
    # each event goes on from the one before it, and nothing is reported twice
    for before, after in zip(mine, mine[1:]):
        d = before["cfpages"]["deployment"]
        assert after["cfpages"]["previous"] == {"stage": d["stage"], "status": d["status"]}
    assert len(set(stages(mine))) == len(mine) >= 3, stages(mine)
    assert last["cfpages"]["deployment"]["url"] == new["url"]
    assert_no_secret(emu, events, caplog.text)


def test_failed_build_and_preview_branch(emu, run_source):
    emu.config(build_seconds=2)
    git_project(emu, "broken", build_command="npm run build && exit 3")

    async def scenario():
        watch = await run_source(emu.creds(interval=1))  # every project of the account
        await wait_polled(emu, "broken")
        prod = build(emu, "broken")
        preview = build(emu, "broken", branch="feature/x")
        failed = []
        while len(failed) < 2:
            failed.append(await watch.until(lambda e: e["deployment"]["status"] == "failure"))
        await watch.stop()
        return prod, preview, failed, watch.events

    prod, preview, failed, events = asyncio.run(scenario())
    by_id = {e["cfpages"]["deployment"]["id"]: e["cfpages"] for e in failed}
    assert by_id[prod["id"]]["deployment"]["stage"] == "build"
    assert by_id[prod["id"]]["deployment"]["environment"] == "production"
    assert by_id[prod["id"]]["previous"]["stage"] != "build" or by_id[prod["id"]]["previous"]["status"] != "failure"
    assert by_id[preview["id"]]["deployment"]["environment"] == "preview"
    assert by_id[preview["id"]]["deployment"]["branch"] == "feature/x"
    assert_no_secret(emu, events)


def test_project_created_later_and_emit_existing(emu, run_source):
    create_project(emu, "first")
    existing = deploy(emu, "first", SITE)

    async def scenario():
        watch = await run_source({**emu.creds(emit_existing=True, interval=1)})
        seen = await watch.next()
        create_project(emu, "later")
        await wait_polled(emu, "later")
        later = deploy(emu, "later", SITE)
        new = await watch.until(lambda e: e["project"] == "later")
        await watch.stop()
        return seen, later, new

    seen, later, new = asyncio.run(scenario())
    assert seen["cfpages"]["deployment"]["id"] == existing["id"]
    assert seen["cfpages"]["previous"] == {"stage": None, "status": None}
    assert new["cfpages"]["deployment"]["id"] == later["id"]
    assert (new["cfpages"]["deployment"]["stage"], new["cfpages"]["deployment"]["status"]) == ("deploy", "success")


def test_global_api_key_and_environment_variables(emu, run_source, monkeypatch):
    create_project(emu, "keyed")
    monkeypatch.setenv("CLOUDFLARE_API_BASE_URL", emu.base_url)
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", emu.account)
    monkeypatch.setenv("CLOUDFLARE_EMAIL", emu.email)
    monkeypatch.setenv("CLOUDFLARE_API_KEY", emu.key)
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    monkeypatch.delenv("CF_API_TOKEN", raising=False)

    async def scenario():
        watch = await run_source({"projects": ["keyed"], "interval": 1})
        await wait_polled(emu, "keyed")
        made = deploy(emu, "keyed", SITE)
        event = await watch.next()
        await watch.stop()
        return made, event

    made, event = asyncio.run(scenario())
    assert event["cfpages"]["deployment"]["id"] == made["id"]


@pytest.mark.parametrize("args, message", [
    ({"account_id": "0" * 32}, "No Cloudflare credentials"),
    ({"api_token": "t" * 40, "account_id": "not-an-account"}, "account_id must be the 32 hexadecimal"),
    ({"api_token": "t" * 40 + "\n", "account_id": "0" * 32}, "api_token has whitespace"),
    ({"api_token": "t" * 40, "account_id": "0" * 32, "interval": 0.2}, "interval must be a finite number of at least 1"),
    # NaN compares false with the minimum: it polled without a pause (the rulebook's `.nan`, or the text "nan").
    ({"api_token": "t" * 40, "account_id": "0" * 32, "interval": float("nan")}, "interval must be a finite number"),
    ({"api_token": "t" * 40, "account_id": "0" * 32, "interval": "nan"}, "interval must be a finite number"),
    ({"api_token": "t" * 40, "account_id": "0" * 32, "interval": float("inf")}, "interval must be a finite number"),
    ({"api_token": "t" * 40, "account_id": "0" * 32, "interval": "-inf"}, "interval must be a finite number"),
    ({"api_token": "t" * 40, "account_id": "0" * 32, "interval": -5}, "interval must be a finite number of at least 1"),
    ({"api_token": "t" * 40, "account_id": "0" * 32, "timeout": "nan"}, "timeout must be a finite number"),
    ({"api_token": "t" * 40, "account_id": "0" * 32, "retry_max_wait": float("nan")}, "retry_max_wait must be a finite"),
    ({"api_token": "t" * 40, "account_id": "0" * 32, "rate_limit_budget": "inf"}, "rate_limit_budget must be a finite"),
    ({"api_token": "t" * 40, "account_id": "0" * 32, "max_retries": -1}, "max_retries must be a finite number of at least 0"),
    ({"api_token": "t" * 40, "account_id": "0" * 32, "interval": "often"}, "interval must be a number"),
    ({"api_token": "t" * 40, "account_id": "0" * 32, "projects": "web"}, "projects must be a list"),
    ({"api_token": "t" * 40, "account_id": "0" * 32, "projects": ["Bad_Name"]}, "is not a valid Pages project name"),
    ({"api_token": "t" * 40, "account_id": "0" * 32, "emit_existing": "maybe"}, "emit_existing must be true or false"),
    ({"api_token": "t" * 40, "account_id": "0" * 32, "intervall": 5}, "unknown option(s) intervall"),
])
def test_bad_arguments_are_refused_before_any_request(source, monkeypatch, args, message):
    for var in ("CLOUDFLARE_API_TOKEN", "CF_API_TOKEN", "CLOUDFLARE_API_KEY", "CF_API_KEY", "CLOUDFLARE_EMAIL",
                "CF_EMAIL", "CLOUDFLARE_ACCOUNT_ID", "CF_ACCOUNT_ID"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ValueError) as err:
        asyncio.run(source["main"](asyncio.Queue(), {"api_base_url": "http://127.0.0.1:9/client/v4", **args}))
    assert message in str(err.value)
    assert "t" * 40 not in str(err.value)


def test_missing_project_and_rejected_token_stop_the_source(emu, source):
    with pytest.raises(ValueError, match="project 'nowhere' does not exist in account"):
        asyncio.run(source["main"](asyncio.Queue(), emu.creds(projects=["nowhere"])))
    wrong = "W" * 40
    with pytest.raises(RuntimeError) as err:
        asyncio.run(source["main"](asyncio.Queue(), emu.creds(api_token=wrong)))
    assert "the first poll failed" in str(err.value) and "Pages Read" in str(err.value)
    assert wrong not in str(err.value) and emu.token not in str(err.value)


def test_a_superseded_build_is_reported_skipped_never_failed(emu, run_source):
    emu.config(build_seconds=30)  # a build stays queued for 6 s
    git_project(emu, "sup")

    async def scenario():
        watch = await run_source(emu.creds(projects=["sup"], interval=1))
        await wait_polled(emu, "sup")
        old = build(emu, "sup")
        new = build(emu, "sup")  # while the first is queued: Pages skips the first
        event = await watch.until(lambda e: e["deployment"]["id"] == old["id"] and e["deployment"]["outcome"] != "pending")
        await watch.stop()
        return old, new, event, watch.events

    old, new, event, events = asyncio.run(scenario())
    skipped = event["cfpages"]["deployment"]
    assert skipped["outcome"] == "skipped" and skipped["stage"] == "queued"
    assert skipped["skip"]["reason"] == "superseded_queued_build" and skipped["skip"]["superseded_by"] == new["id"]
    assert new["id"] in skipped["skip"]["message"]
    assert not [e for e in events if e["cfpages"]["deployment"]["outcome"] == "failure"]
