#!/bin/sh
# Makes the certificates for mTLS between ReadFlow and the Temporal frontend (production shape, SECURITY.md):
#   ca.pem / ca.key                     a private CA (keep ca.key offline once done)
#   temporal-server.pem / .key          the Temporal frontend (SAN: temporal, localhost, 127.0.0.1 + $TEMPORAL_TLS_HOSTS)
#   readflow-client.pem / .key          ReadFlow's API and worker (client auth)
# Usage: npm run certs [-- <dir>]  (default .data/certs; existing files are kept, delete them to renew)
# Then: TEMPORAL_TLS_CERT=<dir>/readflow-client.pem TEMPORAL_TLS_KEY=<dir>/readflow-client.key TEMPORAL_TLS_CA=<dir>/ca.pem
# and the server's global.tls.frontend: server cert/key, requireClientAuth: true, clientCaFiles: [<dir>/ca.pem].
set -eu
dir="${1:-.data/certs}"
days="${READFLOW_CERT_DAYS:-825}"
mkdir -p "$dir"
umask 077
cd "$dir"

if [ ! -f ca.pem ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 3650 \
    -subj "/CN=ReadFlow Temporal CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

issue() { # name cn extendedKeyUsage san
  [ -f "$1.pem" ] && return 0
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\nsubjectAltName=%s\n' "$3" "$4" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" -days "$days" -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

san="DNS:temporal,DNS:localhost,IP:127.0.0.1"
for h in ${TEMPORAL_TLS_HOSTS:-}; do san="$san,DNS:$h"; done
issue temporal-server temporal serverAuth "$san"
issue readflow-client readflow clientAuth "DNS:readflow"
openssl verify -CAfile ca.pem temporal-server.pem readflow-client.pem
echo "certificates in $(pwd)"
