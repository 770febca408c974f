"""Reading memory and CPU of processes from /proc (Linux only, no dependencies)."""
import os
import resource

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def raise_fd_limit() -> int:
    """Raise this process's open-file soft limit to the hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def children(pid: int) -> list:
    """Direct children of a process (every thread's children list)."""
    found = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                found.extend(int(p) for p in fh.read().split())
    except OSError:
        pass
    return found


def descendants(pid: int) -> list:
    """Every process below ``pid`` (not including it)."""
    out, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            out.append(child)
            todo.append(child)
    return out


def rss_kb(pid: int) -> int:
    """Resident set size in KiB (0 when the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far, in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # fields[0] is field 3 (state): utime is field 14, stime field 15.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def fd_count(pid: int) -> int:
    """Open file descriptors of a process."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def total_rss_kb(pids) -> int:
    return sum(rss_kb(p) for p in pids)


def total_cpu(pids) -> float:
    return sum(cpu_seconds(p) for p in pids)


class CpuMeter:
    """CPU seconds used by named groups of processes between start() and stop()."""

    def __init__(self, groups: dict):
        self.groups = groups  # name -> list of pids
        self.begin = {}
        self.wall = 0.0

    def start(self, now: float):
        self.begin = {name: total_cpu(pids) for name, pids in self.groups.items()}
        self.t0 = now

    def stop(self, now: float) -> dict:
        """Percent of one core used by each group over the interval."""
        wall = max(now - self.t0, 1e-9)
        return {name: 100.0 * (total_cpu(pids) - self.begin.get(name, 0.0)) / wall
                for name, pids in self.groups.items()}
