#!/usr/bin/env bash
# Installs headless Chromium and chromedriver for tests/browser.rs (the web page's end-to-end
# test), where they are missing. Debian packages only: nothing is downloaded by a browser
# installer of its own. Not needed to run dossier.
set -euo pipefail

need=()
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "setup: installing ${need[*]} (for the web page's browser test)"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }; } ||
    { echo "setup: could not install ${need[*]}; the browser test will fail under CI" >&2; exit 1; }
else
  echo "setup: install ${need[*]} for the browser test (sudo apt-get install ${need[*]})" >&2
fi
