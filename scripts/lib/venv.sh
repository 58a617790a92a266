# Sourced by setup scripts that keep Python tools in a venv outside the clone.

# new_venv WHO DIR: replaces DIR with a fresh venv made by the first python that has the venv
# module; WHO names the calling script in the error when there is none.
new_venv() {
  local who=$1 dir=$2 py= candidate
  for candidate in python3 python; do
    if command -v "$candidate" >/dev/null && "$candidate" -m venv --help >/dev/null 2>&1; then
      py=$candidate
      break
    fi
  done
  if [ -z "$py" ]; then
    echo "$who: python3 with venv is needed (Debian: apt-get install python3-venv)" >&2
    exit 1
  fi
  rm -rf "$dir"
  "$py" -m venv "$dir"
}
