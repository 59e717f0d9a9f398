# Installs Debian's Chromium for the browser tests (never a downloaded browser build). Idempotent.
if [ ! -x /usr/bin/chromium ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
export PERCH_CHROMIUM=/usr/bin/chromium
