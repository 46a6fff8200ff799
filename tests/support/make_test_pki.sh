#!/usr/bin/env bash
# Makes a throwaway PKI for TLS tests in DIR (which must exist): ca.pem/ca.key; server.pem/.key
# signed by it for 127.0.0.1 and localhost; client.pem/.key signed by it; other-ca.pem/.key and
# other-client.pem/.key signed by that other CA. EC P-256 keys, valid for one day. Needs the
# openssl command (Debian package openssl, installed by tools/dev).
#   tests/support/make_test_pki.sh DIR
set -euo pipefail
[ $# -eq 1 ] && [ -d "$1" ] || { echo "usage: $0 DIR" >&2; exit 2; }
cd "$1"

new_ca() {  # name subject
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -keyout "$1.key" -out "$1.pem" -subj "/CN=$2" 2>/dev/null
}
new_leaf() {  # name ca subject extensions
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$1.key" -out "$1.csr" -subj "/CN=$3" 2>/dev/null
  printf '%b\n' "$4" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 1 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

new_ca ca "Kiln test CA"
new_ca other-ca "Another CA"
new_leaf server ca kiln-control \
  "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth"
new_leaf client ca kiln-admin "extendedKeyUsage=clientAuth"
new_leaf other-client other-ca kiln-admin "extendedKeyUsage=clientAuth"
