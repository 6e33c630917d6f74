"""ACLs with real clients over SASL_PLAINTEXT (PLAIN). usage: acl_clients.py SASL_ADDR PHASE

PHASE setup: admin (a super user) creates the topics and, through kafka-python's
KafkaAdminClient, the ACLs (create_acls, describe_acls, delete_acls), then every check runs.
PHASE after-restart: only the checks (the ACLs must have survived the restart).

The checks, with confluent-kafka-python (librdkafka):
  alice  WRITE+READ topic orders, WRITE on PREFIXED logs., READ group g-alice, WRITE txn tx-ok:
         produces to orders and logs.app, not to secret or logs2; consumes orders in g-alice but
         not in g-other (GROUP_AUTHORIZATION_FAILED); a transactional producer with tx-ok
         commits, with tx-bad fails with TRANSACTIONAL_ID_AUTHORIZATION_FAILED; Metadata lists
         orders and logs.app but not secret.
  bob    ALL on PREFIXED ord, DENY READ on orders (deny wins): writes orders, cannot read it.
  eve    no ACL: sees no topic, cannot produce.
  alice  (kafka-python) CreateTopics and DeleteTopics refused: TOPIC_AUTHORIZATION_FAILED.
"""
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from kafka.errors import TopicAuthorizationFailedError
from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType,
                         KafkaAdminClient, NewTopic, ResourcePattern, ResourcePatternFilter,
                         ResourceType)

addr, phase = sys.argv[1], sys.argv[2]
PW = {"admin": "adm1n", "alice": "al1ce", "bob": "b0b", "eve": "3ve"}


def conf(user, **kw):
    c = {"bootstrap.servers": addr, "security.protocol": "sasl_plaintext",
         "sasl.mechanisms": "PLAIN", "sasl.username": user, "sasl.password": PW[user]}
    c.update(kw)
    return c


def kadmin(user):
    return KafkaAdminClient(bootstrap_servers=addr, security_protocol="SASL_PLAINTEXT",
                            sasl_mechanism="PLAIN", sasl_plain_username=user,
                            sasl_plain_password=PW[user], request_timeout_ms=20000)


def acl(user, op, rtype, name, pattern=ACLResourcePatternType.LITERAL,
        perm=ACLPermissionType.ALLOW):
    return ACL(principal="User:" + user, host="*", operation=op, permission_type=perm,
               resource_pattern=ResourcePattern(rtype, name, pattern))


def produce(user, topic, n=5, **kw):
    """Delivers n records; returns None or the first delivery error's code."""
    errs = []
    p = Producer(conf(user, **{"message.timeout.ms": 10000}, **kw))
    for i in range(n):
        p.produce(topic, value=b"%s-%d" % (user.encode(), i),
                  on_delivery=lambda e, m: errs.append(e.code()) if e else None)
    left = p.flush(30)
    assert left == 0, f"{user} -> {topic}: {left} records neither delivered nor failed"
    return errs[0] if errs else None


def consume(user, topic, group, want):
    """Reads until `want` records arrive or an error; returns (count, first error code)."""
    c = Consumer(conf(user, **{"group.id": group, "auto.offset.reset": "earliest",
                               "enable.auto.commit": True}))
    c.subscribe([topic])
    got, err, deadline = 0, None, time.time() + 30
    while got < want and err is None and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() in (KafkaError.TOPIC_AUTHORIZATION_FAILED,
                                    KafkaError.GROUP_AUTHORIZATION_FAILED):
                err = m.error().code()
            continue
        got += 1
    if err is None and got >= want:
        c.commit(asynchronous=False)
    c.close()
    return got, err


def topics_seen(user):
    p = Producer(conf(user))
    md = p.list_topics(timeout=20)
    return {t for t, tm in md.topics.items() if tm.error is None}


def setup():
    a = kadmin("admin")
    a.create_topics([NewTopic(t, num_partitions=1, replication_factor=1)
                     for t in ("orders", "secret", "logs.app", "logs2")])
    want = [
        acl("alice", ACLOperation.WRITE, ResourceType.TOPIC, "orders"),
        acl("alice", ACLOperation.READ, ResourceType.TOPIC, "orders"),
        acl("alice", ACLOperation.WRITE, ResourceType.TOPIC, "logs.", ACLResourcePatternType.PREFIXED),
        acl("alice", ACLOperation.READ, ResourceType.GROUP, "g-alice"),
        acl("alice", ACLOperation.WRITE, ResourceType.TRANSACTIONAL_ID, "tx-ok"),
        acl("bob", ACLOperation.ALL, ResourceType.TOPIC, "ord", ACLResourcePatternType.PREFIXED),
        acl("bob", ACLOperation.READ, ResourceType.TOPIC, "orders", perm=ACLPermissionType.DENY),
        acl("bob", ACLOperation.READ, ResourceType.GROUP, "*"),
        acl("eve", ACLOperation.READ, ResourceType.TOPIC, "doomed"),
    ]
    r = a.create_acls(want)
    ok, failed = r["succeeded"], r["failed"]
    assert not failed and len(ok) == len(want), f"create_acls failed: {failed}"
    # describe: every ACL of alice, and the MATCH filter for topic orders
    f = ACLFilter(principal="User:alice", host=None, operation=ACLOperation.ANY,
                  permission_type=ACLPermissionType.ANY,
                  resource_pattern=ResourcePatternFilter(ResourceType.ANY, None,
                                                         ACLResourcePatternType.ANY))
    got, err = a.describe_acls(f)
    assert err.errno == 0 and len(got) == 5, f"describe_acls alice: {err} {got}"
    f = ACLFilter(principal=None, host=None, operation=ACLOperation.ANY,
                  permission_type=ACLPermissionType.ANY,
                  resource_pattern=ResourcePatternFilter(ResourceType.TOPIC, "orders",
                                                         ACLResourcePatternType.MATCH))
    got, err = a.describe_acls(f)
    names = sorted((x.principal, x.resource_pattern.resource_name, x.operation.name) for x in got)
    assert names == [("User:alice", "orders", "READ"), ("User:alice", "orders", "WRITE"),
                     ("User:bob", "ord", "ALL"), ("User:bob", "orders", "READ")], names
    # delete eve's one ACL
    f = ACLFilter(principal="User:eve", host=None, operation=ACLOperation.ANY,
                  permission_type=ACLPermissionType.ANY,
                  resource_pattern=ResourcePatternFilter(ResourceType.ANY, None,
                                                         ACLResourcePatternType.ANY))
    res = a.delete_acls([f])
    assert len(res) == 1 and res[0][2].errno == 0 and len(res[0][1]) == 1, f"delete_acls: {res}"
    got, _ = a.describe_acls(f)
    assert not got, f"eve's ACL still there: {got}"
    # a principal without ALTER on the cluster may not create ACLs
    r = kadmin("alice").create_acls(
        [acl("alice", ACLOperation.ALL, ResourceType.CLUSTER, "kafka-cluster")])
    ok, failed = r["succeeded"], r["failed"]
    assert failed and not ok, "alice created an ACL without ALTER on the cluster"
    a.close()
    print("ok: create_acls, describe_acls (principal, MATCH), delete_acls, ALTER needed")


def checks():
    TAF, GAF = KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED
    assert produce("alice", "orders") is None, "alice cannot write orders"
    assert produce("alice", "logs.app") is None, "alice cannot write logs.app (prefixed)"
    assert produce("alice", "secret") == TAF, "alice wrote secret"
    assert produce("alice", "logs2") == TAF, "alice wrote logs2 (not under the prefix logs.)"
    print("ok: produce allowed/denied per topic, prefixed pattern")
    got, err = consume("alice", "orders", "g-alice", 5)
    assert err is None and got >= 5, f"alice consume in g-alice: {got} {err}"
    _, err = consume("alice", "orders", "g-other", 1)
    assert err == GAF, f"alice in g-other: {err}"
    print("ok: consumer group allowed, other group GROUP_AUTHORIZATION_FAILED")
    assert produce("bob", "orders") is None, "bob cannot write orders (ALL on prefix ord)"
    _, err = consume("bob", "orders", "g-bob", 1)
    assert err == TAF, f"bob read orders despite the DENY: {err}"
    print("ok: deny wins over allow")
    seen = topics_seen("alice")
    assert {"orders", "logs.app"} <= seen and "secret" not in seen and "logs2" not in seen, seen
    assert not topics_seen("eve") & {"orders", "secret", "logs2"}, "eve sees topics"
    assert produce("eve", "orders") == TAF, "eve wrote orders"
    print("ok: Metadata lists only describable topics")
    p = Producer(conf("alice", **{"transactional.id": "tx-ok"}))
    p.init_transactions(30)
    p.begin_transaction()
    p.produce("orders", value=b"in-txn")
    p.commit_transaction(30)
    try:
        p = Producer(conf("alice", **{"transactional.id": "tx-bad"}))
        p.init_transactions(30)
        raise AssertionError("tx-bad: init_transactions succeeded")
    except KafkaException as e:
        code = e.args[0].code()
        assert code == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, f"tx-bad: {e}"
    print("ok: transactional producer, denied txn id TRANSACTIONAL_ID_AUTHORIZATION_FAILED")
    # admin operations on topics: alice has no CREATE, DELETE or ALTER_CONFIGS
    ka = kadmin("alice")
    for what, call in (("create_topics", lambda: ka.create_topics([NewTopic("alice-new", 1, 1)])),
                       ("delete_topics", lambda: ka.delete_topics(["secret"]))):
        try:
            call()
            raise AssertionError(what + " succeeded")
        except TopicAuthorizationFailedError:
            pass
    assert "secret" in topics_seen("admin") and "alice-new" not in topics_seen("admin")
    ka.close()
    print("ok: CreateTopics and DeleteTopics need CREATE and DELETE")


if phase == "setup":
    setup()
checks()
