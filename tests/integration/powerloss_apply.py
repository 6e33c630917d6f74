"""Rewrites a data directory to what a power cut would have left, from the journal that
tests/shim/powerloss.c wrote while the broker ran (see the header of that file).

usage: powerloss_apply.py JOURNAL [--model strict|ext4] [--dry-run] [--list]

Run it after the broker was killed and before anything else touches the directory. It prints one
line of key=value figures (files cut, bytes cut, bytes restored, entries dropped, entries restored)
and exits 1 when the journal does not match the directory (the emulation would be unsound) or when
a before-image was too large to keep (lost > 0).

Model of the disk:
  - file content: the bytes the file held when its last successful sync started (the sync with the
    highest start sequence), rebuilt from the current bytes by undoing, newest first, every
    before-image journaled after that start; then cut to the size seen at that start. A file
    never synced keeps its size at the shim's start (0 for a file created since).
  - directory entries: additions (create, mkdir, rename) become durable when an fsync of their
    directory starts after them ("strict", POSIX); with "ext4" any later successful sync of
    anything commits every earlier addition, as ext4's one journal does. Removals (unlink, rmdir)
    are durable at once. A rename not yet durable leaves the source name and brings back the
    replaced file's synced content."""
import os
import shutil
import sys


def main():
    args = sys.argv[1:]
    model = "strict"
    if "--model" in args:
        i = args.index("--model")
        model = args[i + 1]
        del args[i:i + 2]
    dry = "--dry-run" in args
    args = [a for a in args if a not in ("--dry-run", "--list")]
    journal = args[0]
    blob = open(journal + ".blob", "rb")

    root = None
    root_node = None
    kinds = {}            # node -> 'f' | 'd'
    base_size = {}        # node -> durable size at the shim's start (E) or 0 (created)
    base_seq = {}         # node -> sequence number its base state dates from
    live = {}             # dir node -> {name: node}: the directory as the broker left it
    durable = {}          # dir node -> {name: node}: the directory after the power cut
    pending = []          # [seq, dir node, op, args, cancelled]
    undo = {}             # node -> [(seq, off, len, blob_off or None)]
    synced = {}           # node -> (start seq, size) of the sync with the highest start
    victims = {}          # node -> (blob_off, size) content snapshot taken when replaced
    lost = 0
    warnings = []

    def commit(dirnode, upto):
        for p in pending:
            if p[4] or p[0] >= upto or (dirnode is not None and p[1] != dirnode):
                continue
            p[4] = True
            d = durable.setdefault(p[1], {})
            op, a = p[2], p[3]
            if op == "add":
                d[a[0]] = a[1]
            elif op == "del-if":
                if d.get(a[0]) == a[1]:
                    del d[a[0]]
            elif op == "rename":
                sname, dname, node = a
                if d.get(sname) == node:
                    del d[sname]
                d[dname] = node

    for line in open(journal):
        f = line.split()
        if len(f) < 2:
            continue
        seq, ev = int(f[0]), f[1]
        if ev == "H":
            root = f[3]
        elif ev == "E":
            node = (int(f[2]), int(f[3]))
            kinds[node] = f[4]
            base_size[node] = int(f[5])
            base_seq[node] = 0
            rel = " ".join(f[6:])
            if rel == ".":
                root_node = node
                live.setdefault(node, {})
                durable.setdefault(node, {})
                continue
            parent = root_node
            parts = rel.split("/")
            for comp in parts[:-1]:
                parent = live[parent][comp]
            live.setdefault(parent, {})[parts[-1]] = node
            durable.setdefault(parent, {})[parts[-1]] = node
            if f[4] == "d":
                live.setdefault(node, {})
                durable.setdefault(node, {})
        elif ev == "C":
            node, dnode = (int(f[2]), int(f[3])), (int(f[4]), int(f[5]))
            name, kind = f[6], f[7]
            kinds[node] = kind
            base_size[node] = 0
            base_seq[node] = seq
            undo.pop(node, None)
            synced.pop(node, None)
            live.setdefault(dnode, {})[name] = node
            if kind == "d":
                live[node] = {}
                durable[node] = {}
            pending.append([seq, dnode, "add", (name, node), False])
        elif ev == "R":
            sd, sname = (int(f[2]), int(f[3])), f[4]
            dd, dname = (int(f[5]), int(f[6])), f[7]
            node, victim = (int(f[8]), int(f[9])), (int(f[10]), int(f[11]))
            vsize, vblob = int(f[12]), int(f[13])
            if vsize == -2:
                lost += 1
            elif vsize >= 0:
                victims[victim] = (vblob, vsize)
            if live.get(sd, {}).get(sname) == node:
                del live[sd][sname]
            live.setdefault(dd, {})[dname] = node
            if sd == dd:
                pending.append([seq, sd, "rename", (sname, dname, node), False])
            else:
                pending.append([seq, sd, "del-if", (sname, node), False])
                pending.append([seq, dd, "add", (dname, node), False])
        elif ev == "X":
            dnode, name = (int(f[2]), int(f[3])), f[4]
            live.get(dnode, {}).pop(name, None)
            durable.get(dnode, {}).pop(name, None)
            for p in pending:  # an addition of this name that is not durable yet dies with it
                if not p[4] and p[1] == dnode and (
                        (p[2] == "add" and p[3][0] == name) or
                        (p[2] == "rename" and p[3][1] == name)):
                    p[4] = True
        elif ev == "U":
            node = (int(f[2]), int(f[3]))
            if f[6] == "lost":
                undo.setdefault(node, []).append((seq, int(f[4]), int(f[5]), None))
            else:
                undo.setdefault(node, []).append((seq, int(f[4]), int(f[5]), int(f[6])))
        elif ev == "S":
            node, start, size = (int(f[2]), int(f[3])), int(f[4]), int(f[5])
            if node not in synced or synced[node][0] < start:
                synced[node] = (start, size)
            if model == "ext4":
                commit(None, start)
        elif ev == "D":
            node, start = (int(f[2]), int(f[3])), int(f[4])
            commit(None if model == "ext4" else node, start)
        elif ev == "W":
            warnings.append(" ".join(f[2:]))
        elif ev == "K":
            pass
        else:
            sys.exit("powerloss_apply: unknown journal line: %s" % line.strip())
    if root is None or root_node is None:
        sys.exit("powerloss_apply: journal has no root")

    # Where each live node sits now, and a check that the directory is what the journal says.
    live_path = {}

    def walk_live(dnode, path):
        for name, node in live.get(dnode, {}).items():
            p = os.path.join(path, name)
            live_path[node] = p
            if kinds.get(node) == "d":
                walk_live(node, p)
    walk_live(root_node, root)
    mismatch = 0
    node_at = {lp: n for n, lp in live_path.items()}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if p not in node_at or node_at[p][0] != st.st_ino:
                mismatch += 1
                warnings.append("not in journal: %s" % p)
    for node, p in live_path.items():
        if not os.path.lexists(p):
            mismatch += 1
            warnings.append("journal has, disk has not: %s" % p)

    # The durable image of each file, built in a staging directory beside the root.
    stage = root.rstrip("/") + ".powerloss-stage"
    shutil.rmtree(stage, ignore_errors=True)
    os.mkdir(stage)
    stats = {"files": 0, "files_cut": 0, "bytes_cut": 0, "bytes_restored": 0,
             "entries_dropped": 0, "entries_restored": 0, "lost": lost, "mismatch": mismatch}
    durable_paths = {}

    def build(dnode, rel):
        for name, node in sorted(durable.get(dnode, {}).items()):
            r = os.path.join(rel, name) if rel else name
            out = os.path.join(stage, r)
            durable_paths[r] = node
            if kinds.get(node) == "d":
                os.mkdir(out)
                build(node, r)
                continue
            stats["files"] += 1
            if node in live_path:
                shutil.copyfile(live_path[node], out)
            elif node in victims:
                off, size = victims[node]
                blob.seek(off)
                with open(out, "wb") as w:
                    w.write(blob.read(size))
            else:
                open(out, "wb").close()
                warnings.append("no content for %s" % r)
                stats["lost"] += 1
            now = os.path.getsize(out)
            start, size = synced.get(node, (base_seq.get(node, 0), base_size.get(node, 0)))
            with open(out, "r+b") as w:
                for useq, off, ln, boff in sorted(undo.get(node, []), reverse=True):
                    if useq <= start:
                        break
                    if boff is None:
                        stats["lost"] += 1
                        warnings.append("before-image too large: %s at %d" % (r, off))
                        continue
                    if off >= size:
                        continue
                    blob.seek(boff)
                    w.seek(off)
                    w.write(blob.read(ln))
                    stats["bytes_restored"] += ln
                w.truncate(size)
            if now != size:
                stats["files_cut"] += 1
                stats["bytes_cut"] += max(0, now - size)
    build(root_node, "")

    live_rel = {os.path.relpath(p, root) for p in live_path.values()}
    stats["entries_dropped"] = len(live_rel - set(durable_paths))
    if "--list" in sys.argv:
        for r in sorted(live_rel - set(durable_paths)):
            print("dropped: %s" % r, file=sys.stderr)
    stats["entries_restored"] = len(set(durable_paths) - live_rel)
    for w in warnings[:20]:
        print("powerloss_apply: warning: %s" % w, file=sys.stderr)
    if dry:
        shutil.rmtree(stage)
    else:
        for name in os.listdir(root):
            p = os.path.join(root, name)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            else:
                os.unlink(p)
        for name in os.listdir(stage):
            os.rename(os.path.join(stage, name), os.path.join(root, name))
        os.rmdir(stage)
    print(" ".join("%s=%d" % kv for kv in stats.items()))
    sys.exit(1 if stats["lost"] or stats["mismatch"] else 0)


if __name__ == "__main__":
    main()
