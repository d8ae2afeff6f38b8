# The recsys service image: one image for the API, the Celery worker, Celery beat
# and the one-shot migration step (docker-compose.yml picks the command).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 recsys \
 && useradd --system --uid 10001 --gid recsys --create-home --home-dir /home/recsys recsys

# engine "spark": pyspark needs a Java runtime (17+). Debian's default JRE is 17 on
# bookworm and 21 on trixie; Spark 4 supports both.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends default-jre-headless \
 && rm -rf /var/lib/apt/lists/*

# The driver's pyspark must be the cluster's Spark version (docker-compose.yml passes the
# same SPARK_VERSION to the apache/spark image of its spark profile).
ARG SPARK_VERSION=4.0.1

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
RUN pip install --no-cache-dir ".[spark]" "pyspark==${SPARK_VERSION}" \
 && python -c "from recsys_core._als_kernel import warm_up; warm_up()" \
 && rm -rf /build

# A writable working directory for the non-root user (Celery beat's schedule file,
# downloaded datasets, the embedded SQLite default when DATABASE_URL is unset).
WORKDIR /app
# SPARK_SNAPSHOT_URL in compose: a volume shared with the Spark workers. Created here,
# owned by recsys, so the named volume starts out with this owner.
RUN chown recsys:recsys /app \
 && mkdir -p /var/lib/recsys/spark \
 && chown recsys:recsys /var/lib/recsys/spark
USER recsys

EXPOSE 8000

# Liveness only; compose checks /ready (database + broker) for the API service.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

CMD ["recsys", "serve", "--host", "0.0.0.0", "--port", "8000"]
