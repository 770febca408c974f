"""Write a supervisord configuration that runs every Procfile process and restarts any that dies.

Usage: python scripts/supervisor_conf.py PROCFILE RUN_DIR > RUN_DIR/supervisord.conf
The Procfile stays the one list of commands (the tests start the same lines); supervisord runs
each through bash, so ``${VAR:-default}`` expands as it would under honcho.
"""
import shlex
import sys

# A process that stays up this long counts as started; one that dies sooner is retried with a
# growing delay (1 s, 2 s, ...) this many times before supervisord gives up on it.
START_SECS = 3
START_RETRIES = 20
# Warm shutdown: gunicorn's graceful_timeout and a Celery task finishing both fit in this.
STOP_WAIT_SECS = 20


def procfile(path):
    """(name, command) for each ``name: command`` line of a Procfile."""
    for line in open(path, encoding="utf-8"):
        name, sep, command = line.partition(":")
        if sep and name.strip() and not name.lstrip().startswith("#"):
            yield name.strip(), command.strip()


def render(entries, run_dir) -> str:
    """The whole configuration: supervisord in the foreground, one [program] per entry."""
    lines = ["[supervisord]", "nodaemon=true", f"logfile={run_dir}/supervisord.log",
             f"pidfile={run_dir}/supervisord.pid", "", "[unix_http_server]",
             f"file={run_dir}/supervisor.sock", "", "[supervisorctl]",
             f"serverurl=unix://{run_dir}/supervisor.sock", "",
             "[rpcinterface:supervisor]",
             "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", ""]
    for name, command in entries:
        shell = "bash -c " + shlex.quote("exec " + command)
        lines += [f"[program:{name}]", "command=" + shell.replace("%", "%%"),
                  "autorestart=true", f"startsecs={START_SECS}", f"startretries={START_RETRIES}",
                  f"stopwaitsecs={STOP_WAIT_SECS}", "stopasgroup=true", "killasgroup=true",
                  "redirect_stderr=true", "stdout_logfile=/dev/stdout",
                  "stdout_logfile_maxbytes=0", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render(procfile(sys.argv[1]), sys.argv[2]))
