"""Several brokers of a cluster create one topic at once (test_cluster_create_race.sh).

  cluster_create_race.py HOST:PORT HOST:PORT HOST:PORT COUNT
      For each of COUNT new topic names, at the same moment: CreateTopics (4 partitions) on the
      first broker and a Metadata that auto-creates the name (num.partitions, 1) on the other
      two, so that a broker creates a name whose create by another broker has committed but is
      not applied on it yet. Then, within 60 s, every broker must describe every name with the
      same topic id and partition count (Metadata v10): one create won everywhere. Prints
      "topics=N partitions: 4=A 1=B" (how many of each the races gave); exit 1 with the
      differing answers if the brokers never agree.
  cluster_create_race.py --partitions HOST:PORT HOST:PORT HOST:PORT COUNT
      For each of COUNT new topics of 2 partitions, at the same moment: CreatePartitions to 4
      on the first broker and to 6 on the second (both checked against 2). Each answer must be
      0 or INVALID_PARTITIONS (a change that lost to the other, or came after it); at least
      one succeeds. Within 60 s every broker must describe the topic alike (count, and leader
      and replicas of each partition), with a leader for every partition and the count of a
      change that succeeded. Prints "topics=N partitions: 4=A 6=B lost=L"; exit 1 otherwise.
"""
import sys
import threading
import time

from kschema import INF, METADATA_REQ, METADATA_RESP, Conn

CREATE_REQ = [("topics", [("name", "str", 0, INF), ("partitions", "i32", 0, INF),
                          ("rf", "i16", 0, INF),
                          ("assign", [("index", "i32", 0, INF),
                                      ("brokers", "i32list", 0, INF)], 0, INF),
                          ("configs", [("name", "str", 0, INF),
                                       ("value", "nstr", 0, INF)], 0, INF)], 0, INF),
              ("timeout", "i32", 0, INF), ("validate_only", "bool", 1, INF)]
CREATE_RESP = [("throttle", "i32", 2, INF),
               ("topics", [("name", "str", 0, INF), ("error", "i16", 0, INF),
                           ("message", "nstr", 1, INF)], 0, INF)]


PARTS_REQ = [("topics", [("name", "str", 0, INF), ("count", "i32", 0, INF),
                         ("assign", "ni32list", 0, INF)], 0, INF),
             ("timeout", "i32", 0, INF), ("validate_only", "bool", 0, INF)]
PARTS_RESP = [("throttle", "i32", 0, INF),
              ("results", [("name", "str", 0, INF), ("error", "i16", 0, INF),
                           ("message", "nstr", 0, INF)], 0, INF)]


def placement(hps, name):
    """[(count, ((index, leader, replicas), ...)) as each broker describes the topic]"""
    out = []
    for hp in hps:
        r = Conn(hp).call(3, 10, True, {"topics": [{"name": name}], "allow_auto": False},
                          METADATA_REQ, METADATA_RESP)
        t = r["topics"][0]
        parts = tuple(sorted((p["index"], p["leader"], tuple(p["replicas"]))
                             for p in t["parts"])) if t["error"] == 0 else ()
        out.append((len(parts), parts))
    return out


def partitions_race(hps, count):
    conns = [Conn(hp) for hp in hps]
    errors, won, lost = [], {4: 0, 6: 0}, 0
    for k in range(count):
        name = "grow-%d" % k
        r = conns[0].call(19, 4, False, {"topics": [{"name": name, "partitions": 2, "rf": -1,
                                                     "assign": [], "configs": []}],
                                         "timeout": 30000, "validate_only": False},
                          CREATE_REQ, CREATE_RESP)
        if r["topics"][0]["error"]:
            return ["create %s: error %d" % (name, r["topics"][0]["error"])], won, lost
        deadline = time.time() + 60  # every broker has the 2 partitions before the race
        while any(v[0] != 2 for v in placement(hps, name)) and time.time() < deadline:
            time.sleep(0.1)
        barrier, answers = threading.Barrier(2), {}

        def grow(conn, to):
            barrier.wait()
            req = {"topics": [{"name": name, "count": to, "assign": None}], "timeout": 30000,
                   "validate_only": False}
            answers[to] = conn.call(37, 1, False, req, PARTS_REQ, PARTS_RESP)["results"][0]
        ts = [threading.Thread(target=grow, args=(conns[0], 4)),
              threading.Thread(target=grow, args=(conns[1], 6))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        ok = [to for to, a in answers.items() if a["error"] == 0]
        for to, a in answers.items():
            if a["error"] not in (0, 37):
                errors.append("%s to %d: error %d %s" % (name, to, a["error"], a["message"]))
        lost += 2 - len(ok)
        deadline = time.time() + 60
        while True:
            v = placement(hps, name)
            same = len(set(v)) == 1 and all(p[1] >= 0 for p in v[0][1])
            if (same and v[0][0] in ok) or time.time() > deadline:
                break
            time.sleep(0.2)
        if not ok:
            errors.append("%s: neither change succeeded" % name)
        elif not same or v[0][0] not in ok:
            errors.append("%s: succeeded %s, brokers describe %s" % (name, ok, v))
        else:
            won[v[0][0]] += 1
        if errors:
            break  # one is enough: each failing topic would wait its 60 s
    return errors, won, lost


def race(conns, name, barrier, errors):
    def create():
        barrier.wait()
        req = {"topics": [{"name": name, "partitions": 4, "rf": -1, "assign": [],
                           "configs": []}], "timeout": 30000, "validate_only": False}
        r = conns[0].call(19, 4, False, req, CREATE_REQ, CREATE_RESP)
        err = r["topics"][0]["error"]
        if err not in (0, 36):  # created, or TOPIC_ALREADY_EXISTS (another broker won)
            errors.append("CreateTopics %s: error %d" % (name, err))

    def auto(conn):
        barrier.wait()
        conn.call(3, 9, True, {"topics": [{"name": name}], "allow_auto": True}, METADATA_REQ,
                  METADATA_RESP)

    ts = [threading.Thread(target=create)] + \
        [threading.Thread(target=auto, args=(c,)) for c in conns[1:]]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def views(hps, names):
    """{name: [(id, partitions) as each broker describes it]}"""
    out = {n: [] for n in names}
    for hp in hps:
        r = Conn(hp).call(3, 10, True, {"topics": [{"name": n} for n in names],
                                        "allow_auto": False}, METADATA_REQ, METADATA_RESP)
        got = {t["name"]: t for t in r["topics"]}
        for n in names:
            t = got.get(n)
            out[n].append((t["id"].hex(), len(t["parts"])) if t and t["error"] == 0
                          else ("error %d" % (t["error"] if t else -1), 0))
    return out


def main():
    if sys.argv[1] == "--partitions":
        errors, won, lost = partitions_race(sys.argv[2:5], int(sys.argv[5]))
        print("topics=%s partitions: 4=%d 6=%d lost=%d" % (sys.argv[5], won[4], won[6], lost))
        for e in errors[:10]:
            print("  " + e)
        return 1 if errors else 0
    hps, count = sys.argv[1:4], int(sys.argv[4])
    conns = [Conn(hp) for hp in hps]
    names = ["race-%d" % k for k in range(count)]
    errors = []
    for n in names:
        race(conns, n, threading.Barrier(len(conns)), errors)
    deadline = time.time() + 60
    while True:
        v = views(hps, names)
        split = {n: a for n, a in v.items() if len(set(a)) != 1 or a[0][1] == 0}
        if not split or time.time() > deadline:
            break
        time.sleep(0.5)
    for n, a in sorted(split.items()):
        errors.append("%s: brokers disagree: %s" % (n, " | ".join("%s/%d" % x for x in a)))
    fours = sum(1 for a in v.values() if a[0][1] == 4)
    ones = sum(1 for a in v.values() if a[0][1] == 1)
    print("topics=%d partitions: 4=%d 1=%d" % (len(names), fours, ones))
    for e in errors[:10]:
        print("  " + e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
