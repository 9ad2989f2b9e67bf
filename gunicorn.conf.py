"""gunicorn settings for `make serve` (production): `gunicorn -c gunicorn.conf.py wsgi:app`.

Every value can be overridden from the environment where noted. TLS, the public host name and
http -> https redirects belong to the proxy in front: gunicorn here serves whatever Host it is
asked for, over plain http, on loopback.
"""

import multiprocessing
import os
from pathlib import Path

bind = f"127.0.0.1:{os.environ.get('PORT', '5000')}"
# gunicorn's rule of thumb: two workers per core plus one (WEB_CONCURRENCY overrides).
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
worker_class = "sync"
# A request has this long before its worker is replaced; a provider call (a send batch) runs in
# the RQ worker, not here.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On SIGTERM or SIGHUP (graceful reload: `kill -HUP $(cat instance/gunicorn.pid)`), workers
# finish the requests they have for up to this long; HUP re-reads the code and this file.
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak never grows without bound. Not often: a new worker
# builds the whole app (seconds of CPU), and at 2,000 requests five workers taking 300 signups a
# second each rebuilt every half minute, stalling the requests queued to it (bench/load.py).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "50000"))
max_requests_jitter = max_requests // 10
preload_app = False  # each worker builds the app: HUP reloads new code
instance = Path(os.environ.get("MASTHEAD_INSTANCE", "instance"))
pidfile = str(instance / "gunicorn.pid")
# gunicorn >= 27's control socket: beside the pid file, not one shared path for every install.
control_socket = str(instance / "gunicorn.ctl")
# The access log is the app's own line per request (growth/logs.py: JSON, request id, tokens in
# paths redacted); gunicorn's would print raw paths, and /confirm/<token> paths hold secrets.
accesslog = None
errorlog = "-"
# The app alone decides whether forwarded headers are believed (TRUSTED_PROXY_COUNT).
secure_scheme_headers: dict[str, str] = {}
forwarded_allow_ips = "127.0.0.1,::1"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "INFO", "handlers": ["json"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
        "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
    },
    "handlers": {"json": {"class": "growth.logs.LogHandler", "formatter": "json"}},
    "formatters": {"json": {"()": "growth.logs.JsonFormatter"}},
}


def on_starting(server):  # type: ignore[no-untyped-def]
    """Empty the metrics directory of a previous run; say what production lacks (never refused)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for stale in Path(directory).glob("*.db"):
            stale.unlink()
    else:
        server.log.warning("PROMETHEUS_MULTIPROC_DIR is not set: /metrics shows one worker's counts")
    from growth.config import Config

    config = Config.from_env()
    config.validate()
    for warning in config.production_warnings():
        server.log.warning(warning)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """A worker's live gauges leave with it (prometheus-client multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
