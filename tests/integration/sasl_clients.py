"""confluent-kafka-python with SASL: PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 on SASL_PLAINTEXT and
SASL_SSL produce and consume; a wrong password, an unknown user and a mechanism the user has no
credential for are refused. usage: sasl_clients.py SASL_PLAINTEXT SASL_SSL CA_PEM"""
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer

sp, ss, ca = sys.argv[1], sys.argv[2], sys.argv[3]


def conf(addr, mech, user, pw):
    c = {"bootstrap.servers": addr, "sasl.mechanisms": mech, "sasl.username": user,
         "sasl.password": pw, "security.protocol": "sasl_ssl" if addr == ss else "sasl_plaintext"}
    if addr == ss:
        c["ssl.ca.location"] = ca
    return c


def roundtrip(addr, mech, user, pw, n=20):
    topic = f"sasl-{mech.lower()}-{'ssl' if addr == ss else 'plain'}"
    p = Producer(conf(addr, mech, user, pw))
    for i in range(n):
        p.produce(topic, value=b"%d" % i)
    assert p.flush(30) == 0, f"{topic}: not delivered"
    c = Consumer(dict(conf(addr, mech, user, pw), **{"group.id": topic,
                                                     "auto.offset.reset": "earliest"}))
    c.subscribe([topic])
    got, deadline = set(), time.time() + 30
    while len(got) < n and time.time() < deadline:
        m = c.poll(1.0)
        if m is not None and not m.error():
            got.add(int(m.value()))
    c.close()
    assert got == set(range(n)), f"{topic}: consumed {len(got)} of {n}"
    print(f"ok: {mech} over {'SASL_SSL' if addr == ss else 'SASL_PLAINTEXT'}")


def refused(addr, mech, user, pw, label):
    errs = []
    p = Producer(dict(conf(addr, mech, user, pw), **{"error_cb": lambda e: errs.append(e)}))
    try:
        p.list_topics(timeout=2)
        raise AssertionError(f"{label}: metadata served")
    except KafkaException:
        pass
    print(f"ok: refused {label}: {[str(e)[:90] for e in errs[:1]]}")


for addr in (sp, ss):
    for mech in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
        roundtrip(addr, mech, "alice", "s3cret")
refused(sp, "SCRAM-SHA-256", "alice", "wrong", "wrong password (SCRAM)")
refused(ss, "PLAIN", "alice", "wrong", "wrong password (PLAIN over TLS)")
refused(sp, "SCRAM-SHA-512", "mallory", "s3cret", "unknown user")
refused(sp, "SCRAM-SHA-256", "bob", "pw2", "mechanism without a credential")
roundtrip(sp, "SCRAM-SHA-512", "bob", "pw2", n=5)

# The authenticated principal feeds client quotas: with a producer_byte_rate quota on user alice
# (set by the shell script), bob's 300 KB go unthrottled and alice's are throttled.
import urllib.request


def throttled():
    text = urllib.request.urlopen(f"http://{sys.argv[4]}/metrics", timeout=10).read().decode()
    for line in text.splitlines():
        if line.startswith('sluice_quota_throttled_total{quota="producer_byte_rate"}'):
            return float(line.split()[-1])
    return 0.0


def burst(user, pw, mech):
    p = Producer(dict(conf(sp, mech, user, pw), **{"linger.ms": 0, "batch.num.messages": 10}))
    for i in range(300):
        p.produce("sasl-quota", value=b"x" * 1000)
    p.flush(4)


before = throttled()
burst("bob", "pw2", "SCRAM-SHA-512")
assert throttled() == before, "bob (no quota) was throttled"
burst("alice", "s3cret", "PLAIN")
assert throttled() > before, "alice's quota did not apply to her SASL connection"
print("ok: user quotas follow the SASL principal")
print("ok")
