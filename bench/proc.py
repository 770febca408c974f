"""Reading memory and CPU of processes from /proc (Linux only, no dependencies)."""
import os
import resource

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def fd_ceiling() -> int:
    """The most descriptors a process may be given here (/proc/sys/fs/nr_open)."""
    try:
        with open("/proc/sys/fs/nr_open") as fh:
            return int(fh.read())
    except (OSError, ValueError):
        return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def raise_fd_limit(want: int = 262144) -> int:
    """Raise this process's open-file limit; return the new soft limit.

    The soft limit goes to the hard limit; with the privilege to (root, CAP_SYS_RESOURCE) the hard
    limit is raised as well, to ``want`` (at most nr_open). Without it the hard limit stays.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(want, fd_ceiling())
    if hard != resource.RLIM_INFINITY and hard < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, target))
            return target
        except (ValueError, OSError):  # not privileged: the hard limit is the ceiling
            pass
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def fd_limits(pid: int) -> tuple:
    """(soft, hard) open-file limit of another process, from /proc/<pid>/limits."""
    try:
        with open(f"/proc/{pid}/limits") as fh:
            for line in fh:
                if line.startswith("Max open files"):
                    soft, hard = line.split()[3:5]
                    return int(soft), int(hard)
    except (OSError, ValueError):
        pass
    return None, None


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
