"""File-system moves whose fate after a power cut is known, for test_powerloss_shim.sh.

usage: powerloss_scenario.py prepare DIR   -- the state before the shim starts (all durable)
       powerloss_scenario.py run DIR       -- under the shim: the moves below, then SIGKILL
       powerloss_scenario.py check DIR MODEL -- after powerloss_apply.py: exit 1 on any difference
"""
import os
import signal
import sys

SYNCED = bytes(range(100))


def write_file(path, data, sync):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, data)
    if sync:
        os.fsync(fd)
    os.close(fd)


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.close(fd)


def prepare(d):
    write_file(os.path.join(d, "old"), b"OLD-CONTENT", False)
    write_file(os.path.join(d, "base"), b"BASE-CONTENT-0123456789", False)
    os.mkdir(os.path.join(d, "keep"))


def run(d):
    j = lambda *p: os.path.join(d, *p)  # noqa: E731
    # a: 100 bytes synced with their entry, then an append, an overwrite and a truncation.
    fd = os.open(j("a"), os.O_RDWR | os.O_CREAT, 0o644)
    os.write(fd, SYNCED)
    os.fdatasync(fd)
    fsync_dir(d)
    os.write(fd, b"tail that is never synced")
    os.pwrite(fd, b"XXXX", 10)
    os.ftruncate(fd, 5)
    os.pwrite(fd, b"after-truncate", 5)
    # gone: created and synced with its entry, then unlinked (removals are durable at once).
    write_file(j("gone"), b"x", True)
    fsync_dir(d)
    os.unlink(j("gone"))
    # b: content synced, entry never (no directory fsync after its creation).
    write_file(j("b"), b"b-content", True)
    # old: replaced through a synced temp file and a rename whose directory is not synced.
    write_file(j("old.tmp"), b"NEW-CONTENT", True)
    os.rename(j("old.tmp"), j("old"))
    # sub/f: synced with its directory, but sub itself is never synced into the root.
    os.mkdir(j("sub"))
    write_file(j("sub", "f"), b"in-sub", True)
    fsync_dir(j("sub"))
    # keep/g: a file in a directory that was durable at the start, entry synced.
    write_file(j("keep", "g"), b"g-content", True)
    fsync_dir(j("keep"))
    # base: opened with O_TRUNC and rewritten, never synced.
    fd2 = os.open(j("base"), os.O_WRONLY | os.O_TRUNC)
    os.write(fd2, b"rewritten")
    os.close(fd2)
    os.kill(os.getpid(), signal.SIGKILL)


def check(d, model):
    want = {"a": SYNCED, "old": b"OLD-CONTENT", "base": b"BASE-CONTENT-0123456789",
            "keep/g": b"g-content"}
    if model == "ext4":
        # Every sync commits the entries made before it: only the rename has no sync after it,
        # and the later syncs commit it too (sub/f, keep/g and the final root fsync come after).
        want.update({"b": b"b-content", "old": b"NEW-CONTENT", "sub/f": b"in-sub"})
    got = {}
    for dirpath, _, files in os.walk(d):
        for f in files:
            p = os.path.join(dirpath, f)
            got[os.path.relpath(p, d)] = open(p, "rb").read()
    bad = 0
    for k in sorted(set(want) | set(got)):
        if want.get(k) != got.get(k):
            print("%s: want %r, got %r" % (k, want.get(k), got.get(k)))
            bad += 1
    want_dirs = {"keep"} | ({"sub"} if model == "ext4" else set())
    dirs = {os.path.relpath(os.path.join(p, x), d) for p, ds, _ in os.walk(d) for x in ds}
    if dirs != want_dirs:
        print("directories: want %s, got %s" % (sorted(want_dirs), sorted(dirs)))
        bad += 1
    print("%s model: %d difference(s)" % (model, bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    cmd, d = sys.argv[1], sys.argv[2]
    if cmd == "prepare":
        prepare(d)
    elif cmd == "run":
        run(d)
    else:
        check(d, sys.argv[3])
