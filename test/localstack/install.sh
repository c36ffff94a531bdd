#!/usr/bin/env bash
# Installs the pinned open-source LocalStack runtime into .venv-localstack/ (idempotent; a marker records the pins).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${LOCALSTACK_VENV:-$ROOT/.venv-localstack}"
PYTHON="${LOCALSTACK_PYTHON:-python3}"

# 4.13.1 is the newest localstack-core that runs on Python 3.11 (4.14.0 uses 3.12-only syntax) and the last
# line before the 2026 releases that need an account token. Its dependency ranges are open, and later releases
# (cbor2 6, pyOpenSSL 26, newer moto-ext) break it, so every dependency is resolved as PyPI had it on the day
# after the release: pip >= 26 understands --uploaded-prior-to.
LOCALSTACK_SPEC='localstack-core[runtime]==4.13.1'
RESOLVE_AS_OF='2026-02-03T00:00:00Z'
PIP_SPEC='pip==26.3'
WANT="$LOCALSTACK_SPEC as-of $RESOLVE_AS_OF with $PIP_SPEC"
MARKER="$VENV/.colab-localstack-installed"

installed() {
  [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$WANT" ] && "$VENV/bin/python" -c 'import localstack' 2>/dev/null
}
# The service catalog LocalStack's own image builds at build time; without it the first request of every start
# spends ~10 s building it. FILESYSTEM_ROOT must match the one localstack.ts starts the runtime with.
CATALOG_DIR="$VENV/filesystem/usr/lib/localstack"
has_catalog() {
  compgen -G "$CATALOG_DIR/service-catalog-*.dill" >/dev/null
}
if installed && has_catalog; then
  echo "localstack: $VENV is ready ($LOCALSTACK_SPEC)"
  exit 0
fi

# One installer at a time (a test run and `npm run localstack` may both ask).
mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9

if ! installed; then
  if ! "$PYTHON" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] < (3, 14) else 1)'; then
    echo "localstack: $LOCALSTACK_SPEC needs Python 3.10-3.13; $PYTHON is $("$PYTHON" --version 2>&1). Set LOCALSTACK_PYTHON." >&2
    exit 1
  fi
  start=$SECONDS
  echo "localstack: installing $LOCALSTACK_SPEC into $VENV with $("$PYTHON" --version 2>&1)"
  rm -rf "$VENV"
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    # Debian's own python3 ships venv/ensurepip separately.
    rm -rf "$VENV"
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
      apt-get update -qq && apt-get install -y -qq python3-venv
    fi
    "$PYTHON" -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$PIP_SPEC"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --uploaded-prior-to "$RESOLVE_AS_OF" "$LOCALSTACK_SPEC"
  echo "$WANT" > "$MARKER"
  echo "localstack: packages installed in $((SECONDS - start))s"
fi
if ! has_catalog; then
  start=$SECONDS
  mkdir -p "$CATALOG_DIR"
  OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$VENV/filesystem" "$VENV/bin/python" -m localstack.aws.spec
  echo "localstack: service catalog built in $((SECONDS - start))s"
fi
echo "localstack: $VENV is ready ($LOCALSTACK_SPEC)"
