"""Drives `sluice sql` through a pseudo-terminal, for test_sql_shell.sh:
  sql_shell.py SLUICE BROKER CATALOG TIMEOUT
Types a CREATE STREAM, SHOW STREAMS, a SELECT ... EMIT CHANGES whose rows must appear as a
table, Ctrl-C (the query stops, the prompt returns), Ctrl-C at the prompt (the line is dropped,
the shell stays), a query with an unknown column (a positioned error), then quit."""
import os
import pty
import re
import select
import sys
import time

sluice, broker, catalog, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "dumb"
    os.execv(sluice, [sluice, "sql", "-b", broker, "--catalog", catalog])
seen = b""


def expect(pattern, what):
    """Reads the terminal until pattern (a regex over everything read so far) matches."""
    global seen
    deadline = time.time() + timeout
    while not re.search(pattern, seen):
        left = deadline - time.time()
        if left <= 0:
            sys.stdout.write(seen.decode(errors="replace"))
            sys.exit("timed out waiting for %s" % what)
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                sys.stdout.write(seen.decode(errors="replace"))
                sys.exit("the shell exited while waiting for %s" % what)
            seen += chunk
    m = re.search(pattern, seen)
    seen = seen[m.end():]


def send(line):
    os.write(fd, line.encode())


expect(rb"sluice> ", "the prompt")
send("CREATE STREAM clicks (user VARCHAR, page VARCHAR, ms BIGINT)\n"
     "  WITH (topic='clicks', timestamp='ms');\n")
expect(rb"stream clicks created", "CREATE STREAM")
send("SHOW STREAMS;\n")
expect(rb"clicks\s+clicks\s+ms", "SHOW STREAMS")
send("SELECT UPPER(user) AS who, page FROM clicks WHERE page <> 'skip' EMIT CHANGES;\n")
expect(rb"\| who\s+\| page\s+\|", "the table header")
# The two rows come from two partitions: either may print first.
expect(rb"(?s)(?=.*\| ANN\s+\| /home\s+\|)(?=.*\| BOB\s+\| /cart\s+\|)", "both rows")
send("\x03")  # Ctrl-C
expect(rb"query stopped: 2 rows", "the query to stop")
expect(rb"sluice> ", "the prompt after Ctrl-C")
send("SELECT half a stat")
expect(rb"half a stat", "the line editor to echo the typed text")  # it is reading the line now
send("\x03")  # Ctrl-C at the prompt drops the line; the shell stays
expect(rb"sluice> ", "the prompt after Ctrl-C at the prompt")
send("SELECT nope FROM clicks;\n")
expect(rb"line 1, column 8: unknown column 'nope'", "the checker's error")
send("quit\n")
_, status = os.waitpid(pid, 0)
if status != 0:
    sys.exit("the shell exited with status %d" % status)
print("shell ok")
