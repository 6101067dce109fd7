#!/bin/sh
# Makes a throw-away certificate authority and a server certificate for 127.0.0.1 and
# localhost in the directory given, for tests that need real TLS.
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=realtime test CA" \
    -keyout ca.key -out ca.pem
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' > ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
    -extfile ext.cnf -out server.pem
# a second, unrelated CA: for tests of certificates that do not verify
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=untrusted CA" \
    -keyout other-ca.key -out other-ca.pem
rm -f server.csr ext.cnf
