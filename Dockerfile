# Masthead in a container: one image for the web, worker and scheduler processes (compose.yaml).
# Production settings come from the environment (README "Deploying"); nothing is kept on the
# container's disk: data in PostgreSQL, queues and limits in Redis, images in the database or S3.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MASTHEAD_ENV=production \
    MASTHEAD_INSTANCE=/app/instance \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus \
    PORT=8000

# pg_dump and pg_restore for `flask --app wsgi backup` and `verify-restore`.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . .
# Editable: the app finds templates/ and static/ beside its packages, here in /app.
RUN pip install -e .

# /tmp/prometheus world-writable and sticky, as /tmp: the tmpfs compose.yaml mounts over it takes
# this directory's mode but root as its owner (with 755, gunicorn's workers could not write there
# and the web never booted).
RUN useradd --system --home-dir /app --shell /usr/sbin/nologin masthead \
    && mkdir -p /app/instance /tmp/prometheus \
    && chown -R masthead:masthead /app/instance /tmp/prometheus \
    && chmod 1777 /tmp/prometheus
USER masthead

EXPOSE 8000
# gunicorn.conf.py binds loopback for `make serve`; in a container it must listen on every
# interface (the command line wins over the file). The proxy in front does TLS.
CMD ["gunicorn", "-c", "gunicorn.conf.py", "--bind", "0.0.0.0:8000", "wsgi:app"]
