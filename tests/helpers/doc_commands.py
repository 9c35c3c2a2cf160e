"""Run the shell blocks of README.md and docs/*.md as a reader on a fresh machine would.

    python tests/helpers/doc_commands.py            check the markers, then run the marked blocks
    python tests/helpers/doc_commands.py --check    only check the markers (no network, a second)
    python tests/helpers/doc_commands.py --list     print every shell block and what is done with it

Every fenced block of shell commands (```sh, ```bash, ```shell, ```console) carries a marker on the
line before its fence (blank lines between them are allowed):

    <!-- test: run -->              the test runs it
    <!-- test: skip REASON -->      it cannot run here (Galaxy, AWX, a real account...), and why

A shell block without a marker, a skip without a reason, or a marker before anything but a shell
block fails the check, so a new block cannot escape the test unnoticed.

The blocks marked to run are run file by file, in the order of the file and in one bash session
per file (what a block exports or activates holds for the blocks after it, as for a reader going
down the page); every command must succeed (`set -e -o pipefail`, and each command line's status is
checked, so that a failing `a` in `a && b` fails too), in a scratch copy of the checkout (the files git tracks
or would add) as the working directory, with a HOME of its own and a PATH without any venv. Two
things are replaced so that parallel runs on one machine cannot collide: the emulator's port 8787
by a free port and /tmp/pages-emu by a scratch directory. The machine's network settings (proxy,
CA bundle, pip's variables) pass through. Whatever a file's blocks leave running (the emulator
started with `&`) is stopped when the file is done.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import environments

REPO = Path(__file__).resolve().parents[2]
SHELL_LANGUAGES = {"sh", "bash", "shell", "console"}
MARKER = re.compile(r"^<!--\s*test:\s*(?P<what>run|skip)\b\s*(?P<reason>.*?)\s*-->\s*$")
FENCE = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")  # also indented (in a list item)
FRESH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PASS_THROUGH = re.compile(r"^(PIP_.*|.*_proxy|.*_PROXY|SSL_CERT_.*|.*CA_BUNDLE|.*CA_CERTS.*|LANG|LC_ALL|TZ)$")
TIMEOUT = 900  # seconds per file (a server left in the foreground ends here)


class Block:
    def __init__(self, path, line, lang, text, marker, reason):
        self.path, self.line, self.lang, self.text = path, line, lang, text
        self.marker, self.reason = marker, reason

    @property
    def where(self):
        return f"{self.path.relative_to(REPO)}:{self.line}"


def blocks_of(path):
    """(blocks, problems): every fenced block with its marker, and what is wrong with the markers."""
    blocks, problems = [], []
    lines = path.read_text(encoding="utf-8").splitlines()
    pending = None  # (line number, what, reason) of a marker not yet followed by a fence
    i = 0
    while i < len(lines):
        line = lines[i]
        marker = MARKER.match(line.strip())
        fence = FENCE.match(line)
        if marker:
            if pending:
                problems.append(f"{path.relative_to(REPO)}:{pending[0]}: a test marker with no code block after it")
            pending = (i + 1, marker["what"], marker["reason"])
        elif fence:
            start, lang, body = i + 1, fence["lang"].lower(), []
            closing = re.compile(r"^\s*" + fence["fence"][0] + "{" + str(len(fence["fence"])) + r",}\s*$")
            i += 1
            while i < len(lines) and not closing.match(lines[i]):
                body.append(lines[i])
                i += 1
            what, reason = (pending[1], pending[2]) if pending else (None, "")
            block = Block(path, start, lang, "\n".join(body) + "\n", what, reason)
            where = block.where
            if lang in SHELL_LANGUAGES:
                if what is None:
                    problems.append(f"{where}: a ```{lang} block without a test marker: put <!-- test: run --> "
                                    "or <!-- test: skip REASON --> on the line before its fence")
                elif what == "skip" and not reason:
                    problems.append(f"{where}: <!-- test: skip --> needs a reason")
                blocks.append(block)
            elif what is not None:
                problems.append(f"{where}: a test marker before a ```{lang or '(no language)'} block, "
                                "which is not run (markers are for sh, bash, shell and console blocks)")
            pending = None
        elif pending and line.strip():
            problems.append(f"{path.relative_to(REPO)}:{pending[0]}: a test marker not followed by a code block")
            pending = None
        i += 1
    if pending:
        problems.append(f"{path.relative_to(REPO)}:{pending[0]}: a test marker at the end of the file")
    return blocks, problems


def default_files():
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _copy_checkout(dest):
    """The files git tracks or would add (not .cache/, node_modules/, build output)."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           check=True, stdout=subprocess.PIPE).stdout.decode().split("\0")
    for name in filter(None, names):
        src = REPO / name
        if not src.exists() and not src.is_symlink():  # deleted in the work tree, not yet in git
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            target.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, target)


COMPOUND = re.compile(r"<<|\b(do|then|else|fi|done|esac)\b|[{(]\s*$")


def _commands(text):
    """The block's commands, one per line (continuation lines joined), or None when it has heredocs
    or compound commands (if, for, ...), which are then run as one piece."""
    if COMPOUND.search(text):
        return None
    commands, current = [], ""
    for line in text.splitlines():
        current += line + "\n"
        if line.rstrip().endswith(("\\", "&&", "||", "|")):
            continue
        if current.strip() and not current.lstrip().startswith("#"):
            commands.append(current.rstrip("\n"))
        current = ""
    if current.strip():
        commands.append(current.rstrip("\n"))
    return commands


def _script(blocks, port, emu_dir):
    """One bash script for a file's blocks. Each command is echoed, then checked on its own: set -e
    alone lets `a && b` pass when a fails."""
    parts = ["set -e -o pipefail",
             'block() { printf "\\n\\033[1;33m==> %s (at %d s)\\033[0m\\n" "$1" "$SECONDS"; }',
             'check() { [ "$1" = 0 ] || { echo "FAILED (exit $1): the command above" >&2; exit "$1"; }; }']
    for block in blocks:
        text = block.text.replace("8787", str(port)).replace("/tmp/pages-emu", str(emu_dir))
        parts.append(f"block {block.where}")
        for command in _commands(text) or [text.rstrip("\n")]:
            parts.append("printf '$ %s\\n' " + shlex.quote(command))
            parts.append(command)
            parts.append('check "$?"')
    parts.append('echo; echo "all blocks ran"')
    return "\n".join(parts) + "\n"


def _left_running(scratch):
    """Processes whose command line mentions the scratch directory (all of them are this run's)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(scratch) in cmdline:
            found.append((int(proc.name), cmdline.strip()))
    return found


def _end_group(proc):
    """SIGTERM the process group the blocks ran in, wait until it is gone, SIGKILL what is left after 15 s."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        if proc.poll() is None:
            proc.wait()
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def run_file(path, blocks, scratch, out):
    """Run the file's blocks in a fresh copy and HOME; return True when they all ran."""
    name = path.relative_to(REPO).as_posix().replace("/", "_")
    work = scratch / name
    checkout, home, emu_dir = work / "checkout", work / "home", work / "pages-emu"
    checkout.mkdir(parents=True)
    home.mkdir()
    _copy_checkout(checkout)
    script = work / "blocks.sh"
    script.write_text(_script(blocks, _free_port(), emu_dir), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if PASS_THROUGH.match(k)}
    env.update(HOME=str(home), PATH=FRESH_PATH, TERM="dumb", PIP_PROGRESS_BAR="off", TMPDIR=str(work), USER=os.environ.get("USER", "root"),
               PIP_CACHE_DIR=os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip"))
    # The caches that outlive a checkout (venvs, Node.js toolchains: environments.SHARED_CACHES) are
    # the machine's, not the fresh HOME's: a reader's second clone finds them too.
    env["CFPAGES_CACHE_HOME"] = str(environments.cache_home())
    env.setdefault("LANG", "C.UTF-8")
    print(f"\n### {path.relative_to(REPO)}: {len(blocks)} block(s) in {checkout} (HOME={home})", file=out, flush=True)
    start = time.monotonic()
    log = work / "output.log"
    with open(log, "wb") as output:
        proc = subprocess.Popen(["bash", str(script)], cwd=checkout, env=env, stdout=output,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            rc = proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            rc = None
        finally:
            # What the blocks left running in their session (an emulator started with &) is stopped;
            # anything else still running from the scratch copy (a daemon of its own session) is a failure.
            _end_group(proc)
    out.write(log.read_text(encoding="utf-8", errors="replace"))
    strays = _left_running(work)
    for pid, _cmd in strays:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    took = time.monotonic() - start
    if rc is None:
        print(f"FAIL: {path.relative_to(REPO)}: the blocks did not end within {TIMEOUT} s", file=out)
    elif rc:
        print(f"FAIL: {path.relative_to(REPO)}: a block failed (exit {rc}); its output is above", file=out)
    for pid, cmd in strays:
        print(f"FAIL: left running outside the blocks' session (pid {pid}): {cmd}", file=out)
    print(f"{path.relative_to(REPO)}: {took:.0f} s", file=out, flush=True)
    return rc == 0 and not strays


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path, help="Markdown files (default: README.md and docs/*.md)")
    ap.add_argument("--check", action="store_true", help="only check that every shell block is marked")
    ap.add_argument("--list", action="store_true", help="list the shell blocks and their markers")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args(argv)
    files = [f.resolve() for f in args.files] or default_files()
    per_file, problems = {}, []
    for path in files:
        blocks, found = blocks_of(path)
        per_file[path] = blocks
        problems += found
    if args.list:
        for path, blocks in per_file.items():
            for b in blocks:
                print(f"{b.where:<32} {b.marker or 'UNMARKED':<5} {b.reason}")
    for problem in problems:
        print("FAIL: " + problem)
    runnable = {p: [b for b in bs if b.marker == "run"] for p, bs in per_file.items()}
    total = sum(len(bs) for bs in per_file.values())
    print(f"{total} shell block(s) in {len(files)} file(s): {sum(map(len, runnable.values()))} to run, "
          f"{sum(1 for bs in per_file.values() for b in bs if b.marker == 'skip')} skipped with a reason, "
          f"{len(problems)} problem(s)")
    if problems:
        return 1
    if args.check or args.list:
        return 0
    scratch = Path(tempfile.mkdtemp(prefix="cfpages-doc-commands-"))
    failed = []
    try:
        for path, blocks in runnable.items():
            if blocks and not run_file(path, blocks, scratch, sys.stdout):
                failed.append(path.relative_to(REPO).as_posix())
    finally:
        if args.keep:
            print(f"scratch directory kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    if failed:
        print("FAIL: the blocks of " + ", ".join(failed))
        return 1
    print("every marked block ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
