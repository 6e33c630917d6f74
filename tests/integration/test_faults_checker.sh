#!/usr/bin/env bash
# The cluster fault bench's checker (faults_client.py check / segcheck) on a known log: 20,000
# acknowledged records in batches of 20, the shape of bench-faults' log.
#   check     reads them all back through the broker within 20 s (the one-poll-per-record
#             reader took 45 s for this on a loaded machine; a long bench run's read stopped at
#             its deadline), counts nothing wrong, and counts a record a consumer saw that is not in the log;
#   segcheck  counts the same from the stopped broker's segment files; an acknowledged record
#             missing from them is lost; a corrupted byte ends the segment there (a bad batch,
#             the records after it lost), and a replica that holds other records is reported.
source "$(dirname "$0")/lib/broker.sh"
C="$(dirname "$0")/faults_client.py"
N=20000
broker_start
$SLUICE topic create faults -b "$BROKER" -p 1 >/dev/null
$PY - "$BROKER" "$T/acked" $N <<'PY'
import sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "acks": "all", "enable.idempotence": True,
              "batch.num.messages": 20, "linger.ms": 5})
out = open(sys.argv[2], "w")
def done(err, msg):
    if err is None:
        out.write("%d %d %s\n" % (msg.partition(), msg.offset(), msg.value().decode()))
for i in range(int(sys.argv[3])):
    while True:
        try:
            p.produce("faults", value="acked-%d" % i, partition=0, on_delivery=done)
            break
        except BufferError:
            p.poll(0.05)
    p.poll(0)
p.flush(60)
PY
[[ $(wc -l <"$T/acked") -eq $N ]] || fail "only $(wc -l <"$T/acked") of $N acknowledged"
head -n 100 "$T/acked" >"$T/seen"
start=$(date +%s)
out=$($PY "$C" check "$BROKER" faults "$T/acked" "$T/seen") || fail "check: $out"
took=$(( $(date +%s) - start ))
echo "check (${took} s): $out"
(( took <= 20 * mult )) || fail "check took $took s for $N records"
[[ $out == *"log=$N hw=$N"*"seen=100 lost=0 duplicated=0 moved=0 out_of_order=0 gone_after_seen=0"* ]] ||
  fail "check: $out"
echo "0 5 acked-999999" >>"$T/seen" # offset 5 holds acked-5: a record that is gone
out=$($PY "$C" check "$BROKER" faults "$T/acked" "$T/seen") && fail "check passed a gone record: $out"
[[ $out == *"gone_after_seen=1 "* ]] || fail "check: $out"
broker_stop

out=$($PY "$C" segcheck faults "$T/acked" "" "$T/data") || fail "segcheck: $out"
echo "segcheck: $out"
[[ $out == *"bad_batches=0 "*"acked=$N log=$N hw=$N holes=0 seen=0 lost=0 duplicated=0 moved=0"* ]] ||
  fail "segcheck: $out"
cp "$T/acked" "$T/acked2"
echo "0 $N acked-$N" >>"$T/acked2" # acknowledged, never written
out=$($PY "$C" segcheck faults "$T/acked2" "" "$T/data") && fail "segcheck passed a loss: $out"
[[ $out == *" lost=1 "* ]] || fail "segcheck: $out"
# A second replica whose segment has one byte changed in the middle: its CRC stops the read there.
mkdir -p "$T/copy"
cp -r "$T/data/faults-0" "$T/copy/"
seg=$(ls "$T/copy/faults-0/"*.log | head -n 1)
size=$(stat -c %s "$seg")
printf 'X' | dd of="$seg" bs=1 seek=$(( size / 2 )) conv=notrunc status=none
out=$($PY "$C" segcheck faults "$T/acked" "" "$T/data" "$T/copy") && fail "segcheck passed a corrupt copy: $out"
echo "$out"
grep -q "^$T/data: .*bad_batches=0 .* lost=0 " <<<"$out" || fail "segcheck, intact copy: $out"
grep -q "^$T/copy: .*bad_batches=1 " <<<"$out" || fail "segcheck, corrupt copy: $out"
lost=$(sed -n "s|^$T/copy: .* lost=\([0-9]*\) .*|\1|p" <<<"$out")
(( lost > 0 && lost < N )) || fail "segcheck, corrupt copy: lost=$lost"
# A replica with another record at offset 5, in a batch whose CRC is right.
rm -rf "$T/copy" && mkdir -p "$T/copy" && cp -r "$T/data/faults-0" "$T/copy/"
$PY - "$(ls "$T/copy/faults-0/"*.log | head -n 1)" "$C" <<'PY'
import importlib.util, struct, sys
spec = importlib.util.spec_from_file_location("fc", sys.argv[2])
fc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fc)
b = bytearray(open(sys.argv[1], "rb").read())
at = b.index(b"acked-5\x00")  # the value, then its headers count (0)
b[at:at + 7] = b"other-5"
blen, = struct.unpack_from(">i", b, 8)
assert at < 12 + blen  # in the first batch
struct.pack_into(">I", b, 17, fc.crc32c_fast(bytes(b[21:12 + blen])))
open(sys.argv[1], "wb").write(b)
PY
out=$($PY "$C" segcheck faults "$T/acked" "" "$T/data" "$T/copy") && fail "segcheck passed replicas that differ: $out"
echo "$out"
grep -q "^$T/copy: .*bad_batches=0 .* lost=1 " <<<"$out" || fail "segcheck, changed copy: $out"
grep -q "^replicas: ends=$N,$N differ=1 " <<<"$out" || fail "segcheck, changed copy: $out"
echo ok
