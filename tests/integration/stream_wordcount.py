"""Word-count inputs and exactly-once checks for test_stream_wordcount.sh.
  stream_wordcount.py produce BROKER TOPIC SEED LINES [RATE]
      lines of words (deterministic per seed), at RATE lines/s if given
  stream_wordcount.py expect SEEDS... LINES              prints the word totals of those chunks
  stream_wordcount.py verify BROKER TOPIC TOTALS_FILE TIMEOUT
      reads TOPIC read_committed until every word reached its total; every word's updates must be
      exactly 1, 2, ..., total in order (no duplicate, no gap, no loss)."""
import collections
import json
import os
import random
import sys
import time

# SL_WC_VOCAB words (default 40): a large vocabulary makes large state.
VOCAB = ["w%02d" % i for i in range(int(os.environ.get("SL_WC_VOCAB", "40")))]


def lines(seed, n):
    r = random.Random(seed)
    return [" ".join(r.choice(VOCAB) for _ in range(1 + r.randrange(6))) for _ in range(n)]


def main():
    cmd = sys.argv[1]
    if cmd == "produce":
        from confluent_kafka import Producer
        broker, topic, seed, n = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        rate = float(sys.argv[6]) if len(sys.argv) > 6 else 0
        p = Producer({"bootstrap.servers": broker, "acks": "all", "linger.ms": 5})
        t0 = time.time()
        for i, line in enumerate(lines(seed, n)):
            p.produce(topic, line.encode(), key=str(i).encode())
            p.poll(0)
            if rate and i % 50 == 0:
                time.sleep(max(0.0, t0 + i / rate - time.time()))
        assert p.flush(30) == 0
    elif cmd == "expect":
        n = int(sys.argv[-1])
        totals = collections.Counter()
        for seed in sys.argv[2:-1]:
            for line in lines(int(seed), n):
                totals.update(line.split())
        print(json.dumps(totals))
    elif cmd == "verify":
        from confluent_kafka import Consumer, TopicPartition
        broker, topic, totals = sys.argv[2], sys.argv[3], json.load(open(sys.argv[4]))
        deadline = time.time() + float(sys.argv[5])
        c = Consumer({"bootstrap.servers": broker, "group.id": "verify-%f" % time.time(),
                      "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                      "enable.auto.commit": False})
        c.subscribe([topic])
        seen = collections.defaultdict(list)
        while time.time() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                if all(len(seen[w]) >= t for w, t in totals.items()):
                    break
                continue
            seen[m.key().decode()].append(int(m.value()))
        c.close()
        bad = 0
        for w, t in sorted(totals.items()):
            got = seen.get(w, [])
            if got != list(range(1, t + 1)):
                bad += 1
                dup = len(got) - len(set(got))
                print("word %s: want 1..%d, got %d updates (%d duplicated), last %s" %
                      (w, t, len(got), dup, got[-5:]))
        extra = set(seen) - set(totals)
        if extra:
            print("unexpected words:", sorted(extra)[:5])
        print("verified %d words, %d updates, %d wrong" %
              (len(totals), sum(len(v) for v in seen.values()), bad))
        sys.exit(1 if bad or extra else 0)


main()
