#!/usr/bin/env bash
# Creates throwaway certificates for the customers peer's mTLS mode, with the openssl CLI:
#
#   make-certs.sh DIR
#
# DIR/ca.pem, ca-key.pem            a test CA
# DIR/server.pem, server-key.pem    server certificate for 127.0.0.1 (SAN IP:127.0.0.1, DNS:localhost)
# DIR/client.pem, client-key.pem    client certificate (CN orderguard) signed by the CA
# DIR/rogue-ca.pem, rogue-client.pem, rogue-client-key.pem
#                                   a client certificate from another CA, which the peer must refuse
#
# Keys are EC P-256 in PKCS#8 PEM. Extensions are explicit (CA:TRUE only on the CA, key usages,
# extended key usages) because strict verifiers such as rustls/webpki reject certificates
# without them.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$1
mkdir -p "$dir"
cd "$dir"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
serial() { echo "0x$(openssl rand -hex 16)"; }

# A self-signed CA: NAME CN
make_ca() {
  key "$1-key.pem"
  cat > "$tmp/$1.ext" <<'EOF'
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
  openssl req -new -key "$1-key.pem" -subj "/CN=$2" -out "$tmp/$1.csr"
  openssl x509 -req -in "$tmp/$1.csr" -signkey "$1-key.pem" -days 3650 -set_serial "$(serial)" \
    -extfile "$tmp/$1.ext" -out "$1.pem" 2>/dev/null
}

# A leaf signed by a CA: NAME CN CA EXTENSIONS
make_leaf() {
  key "$1-key.pem"
  printf '%s\n' "basicConstraints = critical, CA:FALSE" \
    "keyUsage = critical, digitalSignature" \
    "subjectKeyIdentifier = hash" "authorityKeyIdentifier = keyid" "$4" > "$tmp/$1.ext"
  openssl req -new -key "$1-key.pem" -subj "/CN=$2" -out "$tmp/$1.csr"
  openssl x509 -req -in "$tmp/$1.csr" -CA "$3.pem" -CAkey "$3-key.pem" -days 825 \
    -set_serial "$(serial)" -extfile "$tmp/$1.ext" -out "$1.pem" 2>/dev/null
}

make_ca ca "orderguard test CA"
make_leaf server "127.0.0.1" ca $'extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1, DNS:localhost'
make_leaf client "orderguard" ca "extendedKeyUsage = clientAuth"

make_ca rogue-ca "rogue test CA"
make_leaf rogue-client "orderguard" rogue-ca "extendedKeyUsage = clientAuth"
rm -f rogue-ca-key.pem # nothing else needs to sign with it

chmod 600 ./*-key.pem
openssl verify -CAfile ca.pem server.pem client.pem >&2
echo "certificates in $(pwd)" >&2
