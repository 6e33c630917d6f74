# certs.sh -- a throwaway PKI for TLS tests, made with openssl at run time (docs/security.md has
# the same recipe for users).
#   make_certs DIR   DIR/ca.{key,pem}: test CA; DIR/broker.{key,pem}: for 127.0.0.1/localhost;
#                    DIR/client.{key,pem}: CN=client signed by the CA; DIR/rogue-*: a client
#                    from another CA; DIR/expired.{key,pem}: CN=expired, signed, expired.
make_certs() {
  local d=$1 sub
  mkdir -p "$d"
  ( cd "$d"
    q() { "$@" >/dev/null 2>&1 || { echo "openssl failed: $*" >&2; return 1; }; }
    q openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca
    q openssl req -x509 -newkey rsa:2048 -nodes -keyout rogue-ca.key -out rogue-ca.pem -days 2 \
      -subj /CN=rogue-ca
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
    q openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj /CN=localhost
    q openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out broker.pem \
      -days 2 -extfile san.ext
    for sub in client expired; do
      q openssl req -newkey rsa:2048 -nodes -keyout $sub.key -out $sub.csr -subj "/O=sluice/CN=$sub"
    done
    q openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2
    # Expired: valid from 3 days ago for 1 day (openssl x509 -not_after needs 3.4; use ca).
    q openssl req -newkey rsa:2048 -nodes -keyout rogue.key -out rogue.csr -subj /CN=rogue
    q openssl x509 -req -in rogue.csr -CA rogue-ca.pem -CAkey rogue-ca.key -CAcreateserial \
      -out rogue.pem -days 2
    mkdir -p db && : >db/index.txt && echo 01 >db/serial
    cat >ca.cnf <<CNF
[ca]
default_ca = test
[test]
dir = .
database = db/index.txt
serial = db/serial
new_certs_dir = db
default_md = sha256
policy = any
[any]
commonName = supplied
organizationName = optional
CNF
    q openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr -out expired.pem \
      -startdate 20200101000000Z -enddate 20200102000000Z -notext
  )
}
