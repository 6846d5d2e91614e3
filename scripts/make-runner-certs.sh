#!/usr/bin/env bash
# TLS material for remote runner hosts: a CA, a server certificate per runner host and one client
# certificate for the workers. A remote Docker engine is root on its machine, so it listens only
# with --tlsverify: it accepts clients whose certificate this CA signed, and nothing else.
#
#   scripts/make-runner-certs.sh --out DIR --name NAME [--ip ADDR]... [--dns NAME]...
#                                [--days N] [--port 2376]
#
#   --out DIR    where everything goes (created; mode 0700). Run it again with the same DIR for the
#                next runner host: the CA and the client certificate are reused.
#   --name NAME  the runner host's name (as in `npm run -s admin -- runners add NAME ENDPOINT …`)
#   --ip/--dns   the addresses the workers use to reach the host; each becomes a subjectAltName,
#                and the workers check it (at least one of them is required)
#   --days N     validity of the server and client certificates (default 825; the CA: 3650)
#
# Result:
#   DIR/ca.pem, DIR/ca-key.pem      the CA; keep ca-key.pem offline, it mints new credentials
#   DIR/client/{ca,cert,key}.pem    for the workers: copy to the app host as runner-certs/client/
#                                   (the worker sees /etc/bisect-bot/runner-certs/client)
#   DIR/hosts/NAME/{ca,server-cert,server-key}.pem
#                                   for the runner host: copy to /etc/docker/tls/ there
# and it prints the dockerd configuration for the runner host. Needs openssl.
set -euo pipefail

OUT=
NAME=
DAYS=825
PORT=2376
SANS=()
usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --name) NAME=$2; shift 2 ;;
    --ip) SANS+=("IP:$2"); shift 2 ;;
    --dns) SANS+=("DNS:$2"); shift 2 ;;
    --days) DAYS=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
fail() { echo "make-runner-certs: $*" >&2; exit 1; }
[ -n "$OUT" ] || fail "--out DIR is required"
[ -n "$NAME" ] || fail "--name NAME is required"
[[ "$NAME" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ ]] || fail "--name: letters, digits, dots, dashes and underscores only"
[ ${#SANS[@]} -gt 0 ] || fail "give the runner host's address with --ip and/or --dns"
[[ "$DAYS" =~ ^[1-9][0-9]*$ ]] || fail "--days must be a positive whole number"
command -v openssl >/dev/null || fail "openssl is needed (apt-get install openssl)"

umask 077
mkdir -p "$OUT"
chmod 700 "$OUT"
cd "$OUT"
serial() { echo "0x$(openssl rand -hex 16)"; }
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

if [ ! -f ca.pem ] || [ ! -f ca-key.pem ]; then
  echo "make-runner-certs: new CA in $OUT" >&2
  newkey ca-key.pem
  openssl req -new -x509 -sha256 -days 3650 -key ca-key.pem -set_serial "$(serial)" \
    -subj "/CN=Bisect Bot runner CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out ca.pem
else
  echo "make-runner-certs: reusing the CA in $OUT" >&2
fi

sign() { # sign CSR OUT_CERT EXTFILE
  openssl x509 -req -sha256 -days "$DAYS" -in "$1" -CA ca.pem -CAkey ca-key.pem \
    -set_serial "$(serial)" -extfile "$3" -out "$2" 2>/dev/null
}

if [ ! -f client/cert.pem ] || [ ! -f client/key.pem ]; then
  echo "make-runner-certs: client certificate for the workers in $OUT/client" >&2
  mkdir -p client
  newkey client/key.pem
  openssl req -new -sha256 -key client/key.pem -subj "/CN=bisect-bot-worker" -out client/client.csr
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=clientAuth" "authorityKeyIdentifier=keyid" >client/client.ext
  sign client/client.csr client/cert.pem client/client.ext
  rm -f client/client.csr client/client.ext
fi
cp ca.pem client/ca.pem

HOST_DIR=hosts/$NAME
echo "make-runner-certs: server certificate for $NAME (${SANS[*]}) in $OUT/$HOST_DIR" >&2
mkdir -p "$HOST_DIR"
newkey "$HOST_DIR/server-key.pem"
openssl req -new -sha256 -key "$HOST_DIR/server-key.pem" -subj "/CN=$NAME" -out "$HOST_DIR/server.csr"
SAN_LIST=$(IFS=,; echo "${SANS[*]}")
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
  "extendedKeyUsage=serverAuth" "subjectAltName=$SAN_LIST" "authorityKeyIdentifier=keyid" >"$HOST_DIR/server.ext"
sign "$HOST_DIR/server.csr" "$HOST_DIR/server-cert.pem" "$HOST_DIR/server.ext"
rm -f "$HOST_DIR/server.csr" "$HOST_DIR/server.ext"
cp ca.pem "$HOST_DIR/ca.pem"

openssl verify -CAfile ca.pem "$HOST_DIR/server-cert.pem" client/cert.pem >/dev/null \
  || fail "the new certificates do not verify against the CA"
# Certificates are public; keys stay 0600.
chmod 644 ca.pem client/ca.pem client/cert.pem "$HOST_DIR/ca.pem" "$HOST_DIR/server-cert.pem"
chmod 600 ca-key.pem client/key.pem "$HOST_DIR/server-key.pem"
chmod 755 client hosts "$HOST_DIR"

FIRST=${SANS[0]#*:}
cat <<EOF
Runner host $NAME
  1. Copy $OUT/$HOST_DIR/{ca,server-cert,server-key}.pem to /etc/docker/tls/ on $NAME
     (root-owned; server-key.pem mode 0600).
  2. Start dockerd there with TLS client verification:

       dockerd --tlsverify \\
         --tlscacert=/etc/docker/tls/ca.pem \\
         --tlscert=/etc/docker/tls/server-cert.pem \\
         --tlskey=/etc/docker/tls/server-key.pem \\
         -H unix:///var/run/docker.sock -H tcp://0.0.0.0:$PORT

     or in /etc/docker/daemon.json (with systemd, also drop "-H fd://" from the unit's
     ExecStart through an override, since "hosts" may not be set in both places):

       {
         "tlsverify": true,
         "tlscacert": "/etc/docker/tls/ca.pem",
         "tlscert": "/etc/docker/tls/server-cert.pem",
         "tlskey": "/etc/docker/tls/server-key.pem",
         "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:$PORT"]
       }

     and let only the app host reach port $PORT (firewall).
  3. On the app host: copy $OUT/client/ to runner-certs/client/ beside docker-compose.prod.yml
     (readable by uid 10001), then

       docker compose -f docker-compose.prod.yml exec worker \\
         npm run -s admin -- runners add $NAME tcp://$FIRST:$PORT \\
           --tls-dir /etc/bisect-bot/runner-certs/client --capacity 2
       docker compose -f docker-compose.prod.yml exec worker npm run -s admin -- runners check $NAME

  Check by hand from the app host:
       docker --tlsverify --tlscacert=$OUT/client/ca.pem --tlscert=$OUT/client/cert.pem \\
         --tlskey=$OUT/client/key.pem -H tcp://$FIRST:$PORT version
EOF
