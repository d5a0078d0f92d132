#!/usr/bin/env bash
# A local CA and one server certificate signed by it, for the TLS listeners of the local
# Kafka and Postgres (infra/kafka/kafka.sh, infra/postgres/postgres.sh). Generated once:
# a no-op when the files exist, so clients that trust the CA keep trusting it.
#
# Usage: infra/tls/issue-cert.sh <dir> <name>
#   <dir>/ca.crt       the CA certificate (what clients trust: KAFKA_SSL_CA_FILE, DATABASE_SSL_CA_FILE)
#   <dir>/server.crt   the server certificate, SANs IP:127.0.0.1 and DNS:localhost (what
#                      clients check the host they dialled against)
#   <dir>/server.key   its private key, mode 600
# A CA of its own rather than a self-signed leaf, so clients verify a chain as they would in
# production. The CA's key is discarded: nothing else is ever signed with it. Ten years.
set -euo pipefail

dir="${1:?usage: issue-cert.sh <dir> <name>}"
name="${2:?usage: issue-cert.sh <dir> <name>}"
[[ -s "$dir/ca.crt" && -s "$dir/server.crt" && -s "$dir/server.key" ]] && exit 0
command -v openssl >/dev/null || { echo "issue-cert.sh: openssl not found (apt-get install -y openssl)" >&2; exit 1; }

mkdir -p "$dir"
tmp="$(mktemp -d "$dir/gen.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
umask 077
if ! (
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
    -subj "/CN=Ringmaster local $name CA" -keyout "$tmp/ca.key" -out "$tmp/ca.crt" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
  openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=127.0.0.1" \
    -keyout "$tmp/server.key" -out "$tmp/server.csr"
  printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "extendedKeyUsage=serverAuth" \
    "basicConstraints=CA:FALSE" >"$tmp/server.ext"
  openssl x509 -req -sha256 -days 3650 -in "$tmp/server.csr" -CA "$tmp/ca.crt" \
    -CAkey "$tmp/ca.key" -CAcreateserial -extfile "$tmp/server.ext" -out "$tmp/server.crt"
) >"$tmp/openssl.log" 2>&1; then
  cat "$tmp/openssl.log" >&2
  exit 1
fi
chmod 644 "$tmp/ca.crt" "$tmp/server.crt"
mv "$tmp/server.key" "$dir/server.key"
mv "$tmp/server.crt" "$dir/server.crt"
mv "$tmp/ca.crt" "$dir/ca.crt"
echo "issue-cert.sh: new CA and server certificate for $name in $dir" >&2
