"""Configuration: environment overrides and production's refusal to start without secrets."""
import subprocess
import sys

import pytest


def _run(env_overrides):
    code = ("import config; c = config.get_config(); "
            "getattr(c, 'validate', lambda: None)(); "
            "print(c.PORTAL_ENV, c.PORT, c.SQLALCHEMY_DATABASE_URI, c.WEBHOOK_ALLOW_UNSIGNED)")
    env = {"PATH": "/usr/bin:/bin", **env_overrides}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          cwd=str(__import__("pathlib").Path(__file__).parents[2]))


def test_development_is_the_default_with_sqlite_and_unsigned_webhooks():
    result = _run({})
    assert result.returncode == 0, result.stderr
    env, port, url, unsigned = result.stdout.split()
    assert (env, port, unsigned) == ("development", "4000", "True")
    assert url.startswith("sqlite:///")


def test_environment_overrides_values():
    result = _run({"PORT": "4555", "DATABASE_URL": "postgresql://u@h/db"})
    _, port, url, _ = result.stdout.split()
    assert port == "4555" and url == "postgresql+psycopg://u@h/db"


def test_production_refuses_to_start_without_secrets():
    result = _run({"PORTAL_ENV": "production"})
    assert result.returncode != 0
    assert "Production refuses to start" in result.stderr


def test_production_refuses_short_secrets():
    result = _run({"PORTAL_ENV": "production", "SECRET_KEY": "short", "JWT_SECRET_KEY": "short",
                   "PAYMENT_WEBHOOK_SECRET": "whsec_x", "DATABASE_URL": "postgresql://u@h/db",
                   "REDIS_URL": "redis://h:6379/0"})
    assert result.returncode != 0


@pytest.mark.parametrize("unsigned", ["1", "true"])
def test_production_never_accepts_unsigned_webhooks(unsigned):
    result = _run({"PORTAL_ENV": "production", "SECRET_KEY": "s" * 40, "JWT_SECRET_KEY": "j" * 40,
                   "PAYMENT_WEBHOOK_SECRET": "whsec_x", "DATABASE_URL": "postgresql://u@h/db",
                   "REDIS_URL": "redis://h:6379/0", "WEBHOOK_ALLOW_UNSIGNED": unsigned})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "production" and result.stdout.split()[3] == "False"


def test_unknown_environment_is_refused():
    assert _run({"PORTAL_ENV": "staging"}).returncode != 0


def _gunicorn_bind(env_overrides):
    code = "import runpy; print(runpy.run_path('gunicorn.conf.py')['bind'])"
    result = subprocess.run([sys.executable, "-c", code], env={"PATH": "/usr/bin:/bin",
                                                              **env_overrides},
                            capture_output=True, text=True,
                            cwd=str(__import__("pathlib").Path(__file__).parents[2]))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_web_server_listens_on_loopback_unless_host_says_otherwise():
    assert _gunicorn_bind({}) == "127.0.0.1:4000"
    assert _gunicorn_bind({"HOST": "0.0.0.0", "PORT": "4555"}) == "0.0.0.0:4555"
