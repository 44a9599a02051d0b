# common.sh -- shared bash helpers for scripts/run, scripts/test and the test harness: packages, dev CA.
# Source it; it defines functions and variables only.
# shellcheck shell=bash disable=SC2034  # the package lists are used by the scripts that source this

# The project's Debian packages, in one place.
# libboost1.81-dev: Boost's header-only parts (CRC); libssl-dev: libcrypto (SHA-256, base64).
BOARDHOOK_BUILD_PACKAGES=(cmake make g++ pkg-config libfcgi-dev libboost1.81-dev libboost-json1.81-dev
                          libboost-url1.81-dev libssl-dev libspdlog-dev libhiredis-dev libcurl4-openssl-dev catch2)
BOARDHOOK_RUNTIME_PACKAGES=(nginx redis-server openssl curl python3)
# What only the tests use: integration.deploy_files checks the systemd units and docker-compose.yml
# with Debian's own tools, and runs the containers' health check (cgi-fcgi) and scripts;
# integration.compose builds the images and runs docker-compose.yml on podman (runc, catatonit for
# `init: true`, netavark and aardvark-dns for the networks and their names, iptables for netavark's
# port forwarding, debootstrap for the base image); integration.acme runs a real ACME CA (pebble)
# and certbot, integration.tls_profile testssl, integration.valgrind the handler under valgrind;
# integration.sentinel_topology and the other multi-host tests run Redis Sentinel on hosts made of
# network namespaces (ip from iproute2) that they cut apart with iptables; integration.prometheus
# runs prometheus and promtool (one package; where systemd runs, installing it also starts
# Debian's own prometheus.service on :9090, which the test leaves alone: it uses a port of its own);
# integration.web drives Debian's Chromium through chromedriver (python3-selenium), trusting the
# test CA through an NSS database made with certutil (libnss3-tools).
BOARDHOOK_TEST_PACKAGES=(systemd docker-compose python3-yaml libfcgi-bin shellcheck
                         podman runc catatonit netavark aardvark-dns iptables debootstrap
                         pebble certbot testssl.sh valgrind redis-sentinel iproute2 prometheus
                         chromium chromium-driver python3-selenium libnss3-tools)
# The sanitized build (scripts/test) and the libFuzzer targets (scripts/fuzz) are built with clang;
# libclang-rt-14-dev holds its ASan, UBSan and libFuzzer runtimes.
BOARDHOOK_CLANG_PACKAGES=(clang libclang-rt-14-dev)

say() { printf '%s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# as_root CMD... -- run CMD as root: directly when we are root, else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_packages PKG... -- install the Debian packages among PKG that are not installed yet.
# Runs `apt-get update` at most once per process, and only when something is missing.
ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        # dpkg -s also succeeds for removed packages whose config files remain; check the state.
        [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] ||
            missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing missing packages: ${missing[*]}"
    if [ -z "${_boardhook_apt_updated:-}" ]; then
        as_root apt-get update -q || return 1
        _boardhook_apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# ensure_node -- Node.js and npm: whatever is installed (another vendor's nodejs package brings its
# own npm), else Debian's. The benchmark's Node peer and the tests' check of webhook signatures
# (npm's standardwebhooks, tests/integration/standardwebhooks/) run on it.
ensure_node() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        ensure_packages nodejs npm
    fi
}

# make_dev_ca DIR -- make (or reuse) a development CA and a certificate for localhost signed by it.
# Writes DIR/ca.pem, DIR/ca.key, DIR/server.pem (leaf then CA, as nginx's ssl_certificate wants)
# and DIR/server.key. An existing CA is kept; the server certificate is remade only when it is
# missing, not signed by that CA, or expires within a day. Returns non-zero on any openssl error.
make_dev_ca() {
    local dir=$1
    [ -n "$dir" ] || { say "make_dev_ca: no directory given"; return 2; }
    (
        set -e
        umask 077
        mkdir -p "$dir"
        cd "$dir"
        if ! [ -s ca.pem ] || ! [ -s ca.key ]; then
            openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key
            openssl req -x509 -new -key ca.key -sha256 -days 3650 -out ca.pem \
                -subj "/O=boardhook development/CN=boardhook development CA $(hostname -s)" \
                -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
                -addext "keyUsage=critical,keyCertSign,cRLSign" \
                -addext "subjectKeyIdentifier=hash"
            rm -f server.pem server.key
        fi
        if [ -s server.pem ] && [ -s server.key ] &&
           openssl verify -CAfile ca.pem server.pem >/dev/null 2>&1 &&
           openssl x509 -in server.pem -noout -checkend 86400 >/dev/null; then
            exit 0
        fi
        openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server.key
        openssl req -new -key server.key -subj "/CN=localhost" -out server.csr
        printf '%s\n' \
            "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature" \
            "extendedKeyUsage=serverAuth" \
            "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
            "subjectKeyIdentifier=hash" \
            "authorityKeyIdentifier=keyid" > server.ext
        # 397 days: the longest validity clients accept for a leaf certificate.
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -sha256 -days 397 \
            -set_serial "0x$(openssl rand -hex 16)" -extfile server.ext -out server.leaf.pem 2>/dev/null
        cat server.leaf.pem ca.pem > server.pem
        rm -f server.csr server.ext server.leaf.pem
        chmod 644 ca.pem server.pem   # certificates are public; the keys stay 0600
    )
}
