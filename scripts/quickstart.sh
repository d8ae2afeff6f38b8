#!/usr/bin/env bash
# The embedded quick start: install, migrate a local SQLite database, import MovieLens
# ml-100k, train the first model with the in-process worker, and serve on :8000.
#   MOVIELENS   a folder, zip, URL or GroupLens name (default: ../shared/data/ml-100k if
#               present, else the ml-100k archive downloaded from GroupLens)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -e .
RECSYS="$VENV/bin/recsys"

if [ -z "${MOVIELENS:-}" ]; then
  if [ -d ../shared/data/ml-100k ]; then MOVIELENS=../shared/data/ml-100k; else MOVIELENS=ml-100k; fi
fi

"$RECSYS" migrate
"$RECSYS" bootstrap "$MOVIELENS"  # import unless the database holds ratings; train unless a model is active
exec "$RECSYS" serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
