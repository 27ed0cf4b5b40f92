# Shared by scripts/run, scripts/test and scripts/bench: find Swift and install what is missing.
# Works non-interactively (CI=true, no stdin) as root or with passwordless sudo.

repo_root() { cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd; }

ensure_swift() {
  if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then
      export PATH="/opt/swift/usr/bin:$PATH"
    else
      echo "error: swift not found (install Swift 6.3 and put it on PATH)" >&2
      exit 1
    fi
  fi
}

# ensure_apt PACKAGE... installs the Debian packages that are not installed yet.
ensure_apt() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo -n"
  $sudo apt-get update -qq </dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
}

ensure_build_deps() {
  ensure_swift
  ensure_apt libevent-dev libssl-dev curl
}

ensure_pytest() {
  python3 -c 'import pytest' 2>/dev/null && return 0
  python3 -m pip install --quiet pytest </dev/null
}

# The console's browser tests: Debian's chromium and its driver, Python selenium. Best effort:
# without them those tests skip and say why, and everything else still runs.
ensure_browser() {
  ensure_apt chromium chromium-driver || echo "scripts: chromium could not be installed; the console's browser tests skip" >&2
  python3 -c 'import selenium' 2>/dev/null && return 0
  python3 -m pip install --quiet selenium </dev/null || echo "scripts: selenium could not be installed; the console's browser tests skip" >&2
}
