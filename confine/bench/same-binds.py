#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""bwrap given the same sandbox as confine, for scripts/bench.sh gnome.

  same-binds.py args DUMP PROFILE SECCOMP_DIR UID
      reads what confine really built (DUMP: confine/bench/gnome-probe.c's output, run in confine's
      sandbox) and this mount namespace's /proc/self/mountinfo, and prints bwrap's arguments (one
      a line) that build the same tree: every bind from the host path it came from, every tmpfs
      with its mode and its own entries (dirs, symlinks), read-only where confine's is, /dev as
      bwrap's --dev, and confine's own compiled filter for the profile (PROFILE: the helper's
      JSON) as --seccomp 9; after a line "--", "open 9 PATH": the caller opens it for each run
      (bwrap reads it to the end). A source that bwrap, run as a user, cannot reach by its path
      (UID: the user bwrap runs as; the snap's private /tmp under root's 0700
      /run/snapshelf-private) is an error: bind it
      somewhere reachable in this mount namespace first (bwrap 0.8 resolves even --bind-fd's
      source by its path).
  same-binds.py compare CONFINE_DUMP BWRAP_DUMP
      the two sandboxes as their probes saw them: prints each difference, those explained in
      docs/benchmarks.md with the reason; exits 1 if any is not explained.
"""
import json
import os
import re
import sys

# File systems a sandbox makes anew: their device numbers differ from run to run.
NEW_FS = {"tmpfs", "proc", "devpts", "mqueue"}


def parse_dump(path):
    mounts, entries, rest = [], {}, []
    current = None
    with open(path) as f:
        for line in f:
            kind, _, tail = line.rstrip("\n").partition(" ")
            if kind == "mount":
                point, fstype, ro, dev, mode, root = tail.split(" ", 5)
                current = {"point": point, "fstype": fstype, "ro": ro, "dev": dev, "mode": mode,
                           "root": root}
                mounts.append(current)
                entries[point] = []
            elif kind == "entry":
                path_, what, mode, target = (tail.split(" ", 3) + [""])[:4]
                entries[current["point"]].append((path_, what, mode, target))
            else:
                rest.append(line.rstrip("\n"))
    return mounts, entries, rest


def host_mounts():
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            dash = fields.index("-")
            # mountinfo writes a space, a tab, a newline and a backslash as \ooo.
            unesc = lambda s: re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)
            out.append({"dev": fields[2], "root": unesc(fields[3]), "point": unesc(fields[4]),
                        "fstype": fields[dash + 1]})
    return out


def under(path, top):
    return path == top or top == "/" or path.startswith(top + "/")


def rel(path, top):
    return path[len(top):].lstrip("/") if top != "/" else path.lstrip("/")


def join(top, tail):
    return top.rstrip("/") + "/" + tail if tail else top


def host_source(m, host):
    """The host path showing what the sandbox's mount `m` shows: a host mount of the same device
    whose root contains m's root (the longest such root: the most direct path)."""
    best = None
    for h in host:
        if h["dev"] == m["dev"] and under(m["root"], h["root"]):
            if best is None or len(h["root"]) > len(best["root"]):
                best = h
    if best is None:
        sys.exit(f"same-binds: no host mount shows {m['point']} (device {m['dev']}, {m['root']})")
    return join(best["point"], rel(m["root"], best["root"]))


def reachable(path, uid):
    """Whether user `uid` may walk to `path`: every directory above it searchable by its owner
    when that is the user, by others otherwise (groups are not looked at: the bench's user is in
    none of the directories' groups)."""
    parts = path.strip("/").split("/")
    for i in range(len(parts)):
        st = os.stat("/" + "/".join(parts[:i]))
        if not st.st_mode & (0o100 if st.st_uid == uid else 0o001):
            return False
    return True


def seccomp_file(profile_path, seccomp_dir):
    # As confine chooses it (run.rs, seccomp::variant_file): the network plug, the browser sandbox.
    p = json.load(open(profile_path))
    plugs = [x for x in p.get("plugs", []) if x.get("connected")]
    inet = any(x["interface"] == "network" for x in plugs)
    sandbox = any(x["interface"] == "browser-support" and x.get("attrs", {}).get("allow-sandbox")
                  for x in plugs)
    name = {(False, False): "v2-default.bpf", (True, False): "v2-network.bpf",
            (False, True): "v2-sandbox.bpf", (True, True): "v2-network-sandbox.bpf"}[inet, sandbox]
    return os.path.join(seccomp_dir, name)


def bwrap_args(dump, profile, seccomp_dir, uid):
    mounts, entries, _ = parse_dump(dump)
    host = host_mounts()
    args, read_only = ["--unshare-user", "--unshare-pid"], []
    binds = []  # (sandbox point, host source) of the binds made: their submounts come along
    dev_done = False
    for m in mounts:
        point = m["point"]
        if point == "/dev" or (under(point, "/dev") and dev_done and m["fstype"] != "tmpfs"):
            # confine's /dev is what bwrap's --dev makes (a tmpfs, the usual devices bound from
            # the host, devpts, the /proc/self/fd links); /dev/shm is a tmpfs of its own below.
            if point == "/dev":
                args += ["--dev", "/dev"]
                dev_done = True
                if m["ro"] == "ro":
                    read_only.append("/dev")
            continue
        # Carried by a recursive bind made above (bwrap's binds are recursive, as confine's).
        carried = False
        for bpoint, bsrc in binds:
            if under(point, bpoint) and point != bpoint:
                hsrc = join(bsrc, rel(point, bpoint))
                if any(h["point"] == hsrc and h["dev"] == m["dev"] for h in host):
                    carried = True
                    break
        if carried:
            continue
        if m["fstype"] in NEW_FS:
            if point == "/":
                pass  # bwrap's root is a tmpfs too
            elif m["fstype"] == "tmpfs":
                args += ["--perms", m["mode"], "--tmpfs", point]
            elif m["fstype"] == "proc":
                args += ["--proc", point]
            else:
                sys.exit(f"same-binds: bwrap cannot mount a {m['fstype']} at {point}")
            if m["ro"] == "ro":
                read_only.append(point)
            for path, what, mode, target in entries[point]:
                if what == "dir":
                    args += ["--perms", mode, "--dir", path]
                elif what == "link":
                    args += ["--symlink", target, path]
                else:
                    sys.exit(f"same-binds: {path} in confine's tmpfs is a {what}: no bwrap op")
            continue
        src = host_source(m, host)
        if not reachable(src, int(uid)):
            sys.exit(f"same-binds: {point}'s source {src} is out of a user's reach: bind it "
                     "somewhere reachable first")
        args += ["--ro-bind" if m["ro"] == "ro" else "--bind", src, point]
        binds.append((point, src))
    # Read-only once filled (a read-only tmpfs could not take its mount points), deepest first.
    for point in sorted(read_only, key=len, reverse=True):
        args += ["--remount-ro", point]
    args += ["--seccomp", "9", "--", "open 9 " + seccomp_file(profile, seccomp_dir)]
    return args


# Differences between confine's and bwrap's sandbox that are explained (docs/benchmarks.md,
# "the same binds"): each a test on a difference line, and the reason.
EXPLAINED = [
    (lambda side, m: side == "bwrap" and m.startswith("entry /dev/core link"),
     "bwrap's --dev adds /dev/core -> /proc/kcore"),
]
SUBMOUNT_RO = ("the host's submounts of the read-only /sys: bwrap makes them read-only too, "
               "confine only /sys itself (and a file system's root looks different through it)")


def normalized(path):
    mounts, entries, rest = parse_dump(path)
    lines = []
    for m in mounts:
        dev = "-" if m["fstype"] in NEW_FS else m["dev"]
        root = "-" if m["fstype"] in NEW_FS else m["root"]
        lines.append(f"mount {m['point']} {m['fstype']} {m['ro']} {dev} {m['mode']} {root}")
        lines += [f"entry {p} {w} {mo} {t}".rstrip() for p, w, mo, t in entries[m["point"]]]
    return set(lines + rest)


def submount_ro(line, other):
    """A mount under /sys that the other side has too, with the same file system and device,
    differing only in ro/rw and its root's mode."""
    f = line.split(" ")
    if f[0] != "mount" or not f[1].startswith("/sys/"):
        return False
    same = lambda g: g[:3] == f[:3] and g[4] == f[4] and g[6:] == f[6:]
    return any(same(o.split(" ")) for o in other if o.startswith("mount "))


def compare(confine_dump, bwrap_dump):
    c, b = normalized(confine_dump), normalized(bwrap_dump)
    bad = 0
    for side, only, other in (("confine", c - b, b - c), ("bwrap", b - c, c - b)):
        for line in sorted(only):
            why = next((r for test, r in EXPLAINED if test(side, line)), None)
            why = why or (SUBMOUNT_RO if submount_ro(line, other) else None)
            print(f"only in {side}: {line}" + (f"  [explained: {why}]" if why else "  [NOT EXPLAINED]"))
            bad += why is None
    print(f"{len(c & b)} lines the same, {len(c ^ b)} different, {bad} not explained")
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["args"] and len(sys.argv) == 6:
        print("\n".join(bwrap_args(*sys.argv[2:])))
    elif sys.argv[1:2] == ["compare"] and len(sys.argv) == 4:
        sys.exit(compare(*sys.argv[2:]))
    else:
        sys.exit(__doc__)
