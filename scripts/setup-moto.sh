#!/usr/bin/env bash
# Installs moto's S3-compatible server into a virtual environment, for tests/object_store.rs
# (a local stand-in for the object store a team would point `--store s3://...` at).
#
# The venv lives outside the clone ($1, else $DOSSIER_MOTO_VENV, else ~/.cache/dossier-moto)
# so that fresh clones (CI) reuse it. Idempotent: once the pinned version is in place (a stamp file
# says so), nothing is installed and this returns at once. Only used by tests: dossier itself never
# runs Python.
set -euo pipefail

MOTO_VERSION=5.2.5
venv=${1:-${DOSSIER_MOTO_VENV:-$HOME/.cache/dossier-moto}}

stamp="$venv/.installed-moto-$MOTO_VERSION"
if [ -f "$stamp" ] && [ -x "$venv/bin/moto_server" ]; then
  exit 0
fi

# shellcheck source=lib/venv.sh
source "$(dirname "$0")/lib/venv.sh"
echo "setup-moto.sh: installing moto[server]==$MOTO_VERSION into $venv" >&2
new_venv setup-moto.sh "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "moto[server]==$MOTO_VERSION"
"$venv/bin/moto_server" --help >/dev/null
touch "$stamp"
echo "setup-moto.sh: $("$venv/bin/python" -c 'import moto; print("moto", moto.__version__)') ready" >&2
