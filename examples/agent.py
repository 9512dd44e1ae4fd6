"""A tiny stand-in for an AI agent: it runs one everyday command and one destructive command
through Python's usual process API, and says what happened to each. Try it:

    npx rampart preload -- python3 examples/agent.py

The destructive command is `rm -rf /`, but it is safe to run this file anywhere, with or without
rampart: the `rm` it finds first on PATH is a decoy this script writes into a fresh temporary
directory, which only prints a line. So even in monitor mode (which logs but never blocks)
nothing is deleted; rampart's policy sees the same `rm -rf /` a real agent would run.
"""
import os
import subprocess
import tempfile


def attempt(description, argv, **kwargs):
    print(f"agent: running {description}", flush=True)
    try:
        # stderr is inherited, so rampart's one-line explanation of a block reaches the terminal.
        result = subprocess.run(argv, stdout=subprocess.PIPE, text=True, **kwargs)
    except OSError as error:  # a denied exec: PermissionError, [Errno 1] Operation not permitted
        print(f"  blocked: {type(error).__name__}: {error}", flush=True)
        return
    if result.returncode == 0:
        print(f"  allowed: {result.stdout.strip() or '(no output)'}", flush=True)
    else:
        print(f"  failed: exit code {result.returncode}", flush=True)


with tempfile.TemporaryDirectory(prefix="rampart-example-") as decoy_dir:
    decoy = os.path.join(decoy_dir, "rm")
    with open(decoy, "w") as f:
        f.write('#!/bin/sh\necho "decoy rm ran with: $*"\n')
    os.chmod(decoy, 0o755)
    decoy_env = {**os.environ, "PATH": decoy_dir + os.pathsep + os.environ.get("PATH", "")}

    # An everyday command.
    attempt("`echo hello from the agent` (everyday)", ["echo", "hello from the agent"])
    # A destructive one; rampart makes the exec fail with EPERM.
    attempt("`rm -rf /` (destructive; a harmless decoy rm)", ["rm", "-rf", "/"], env=decoy_env)
