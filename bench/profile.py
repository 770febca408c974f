"""Optional sampling profile of the web workers with py-spy (not a project dependency).

Install it anywhere (``pip install --target /tmp/pyspy py-spy==0.4.3``) and point ``PY_SPY`` at the
binary, or have it on PATH. Idle samples (the gevent hub waiting in epoll) are left out, so the
shares below are shares of the CPU the worker actually used.
"""
import os
import shutil
import subprocess
from collections import Counter


def binary():
    return os.environ.get("PY_SPY") or shutil.which("py-spy") or (
        "/tmp/pyspy/bin/py-spy" if os.path.exists("/tmp/pyspy/bin/py-spy") else None)


def start(pids, seconds, out_prefix, rate=250):
    """Sample each pid for ``seconds``; return the (process, output path) pairs."""
    exe = binary()
    if not exe:
        raise RuntimeError("py-spy not found: set PY_SPY or install it (see bench/profile.py)")
    runs = []
    for pid in pids:
        path = f"{out_prefix}-{pid}.txt"
        runs.append((subprocess.Popen(
            [exe, "record", "--pid", str(pid), "--duration", str(int(seconds) + 1),
             "--rate", str(rate), "--format", "raw", "--nonblocking", "--output", path],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), path))
    return runs


def _frame_name(frame):
    # "function (path/to/module.py:123)" → "module.py:function"
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    return f"{path.rsplit('/', 2)[-2] + '/' if '/' in path else ''}{path.rsplit('/', 1)[-1]}:{name}"


def summarize(runs, top=15) -> str:
    """Wait for the samplers; the functions with most self time and most inclusive time."""
    self_time, inclusive, total = Counter(), Counter(), 0
    for process, path in runs:
        process.wait(timeout=120)
        if not os.path.exists(path):
            continue
        with open(path) as fh:
            for line in fh:
                stack, _, count = line.rstrip("\n").rpartition(" ")
                if not stack or not count.isdigit():
                    continue
                n = int(count)
                frames = [_frame_name(f) for f in stack.split(";") if "(" in f]
                if not frames:
                    continue
                total += n
                self_time[frames[-1]] += n
                for name in set(frames):
                    inclusive[name] += n
    if not total:
        return "profile: no samples"
    lines = [f"profile: {total} busy samples over {len(runs)} workers",
             "  self time:"]
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in self_time.most_common(top)]
    lines.append("  inclusive time:")
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)
