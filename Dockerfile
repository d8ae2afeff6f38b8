# The recsys service image: one image for the API, the Celery worker, Celery beat
# and the one-shot migration step (docker-compose.yml picks the command).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 recsys \
 && useradd --system --uid 10001 --gid recsys --create-home --home-dir /home/recsys recsys

# Install the project the same way the README does: a pip install of the checkout.
# The sources are only needed to build; the installed package lives in site-packages.
WORKDIR /build
COPY pyproject.toml README.md ./
COPY recsys_core ./recsys_core
COPY service ./service
COPY workers ./workers
COPY migrations ./migrations
# The ALS kernel is compiled once here, into site-packages' __pycache__, so containers
# do not each spend seconds compiling it on their first training. (numba's cache is per
# CPU model: on a different CPU a container compiles once more, into ~/.cache.)
RUN pip install --no-cache-dir . \
 && python -c "from recsys_core._als_kernel import warm_up; warm_up()" \
 && rm -rf /build

# A writable working directory for the non-root user (Celery beat's schedule file,
# downloaded datasets, the embedded SQLite default when DATABASE_URL is unset).
WORKDIR /app
RUN chown recsys:recsys /app
USER recsys

EXPOSE 8000

# Liveness only; compose checks /ready (database + broker) for the API service.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

CMD ["recsys", "serve", "--host", "0.0.0.0", "--port", "8000"]
