#!/usr/bin/env python3
"""bench-report.py RESULTS: the markdown tables of conformance-tests/l1/bench from its results.txt (the RESULT
lines of benchrun.py and the IO lines of nbench). Each cell is the median with the range of the runs in
brackets; a run that gave no figure is counted in "n/N" next to it. Ratios are Nimbus / QEMU of the medians."""
import json, re, statistics, sys

lines = open(sys.argv[1]).read().splitlines()
head = {k: v for k, v in (l.split(" ", 1) for l in lines if l.split(" ", 1)[0] in ("DATE", "HOST", "COMMIT"))}
l1 = next((l for l in lines if l.startswith("L1 kernel:")), "")
results = [json.loads(l[len("RESULT "):]) for l in lines if l.startswith("RESULT ")]
runs = max([1] + [int(m[1]) for m in (re.match(r"IO \w+ \d+ \d+ (\d+)", l) for l in lines) if m])


def values(name, key, scale=1.0):
    rs = [r for r in results if r["name"] == name]
    return [r[key] * scale for r in rs if key in r and r.get("rc", 0) in (0, -9)], len(rs)


def io(vmm, q, side, pattern, extract):
    out, tags = [], set()
    for l in lines:
        m = re.match(rf"IO {vmm} {q} (\d+) (\d+) {side} NBENCH (.*)", l)
        if m:
            tags.add(m[2])
            if re.match(pattern, m[3]):
                f = dict(kv.split("=", 1) for kv in m[3].split()[1:] if "=" in kv)
                out.append(extract(f))
    booted = sum(1 for r in results if r["name"].startswith(f"io {vmm} {q} "))
    return out, max(len(tags), booted)


def cell(v, total, fmt):
    if not v:
        return f"none (0/{total})"
    s = fmt(statistics.median(v))
    if len(v) > 1:
        s += f" ({fmt(min(v))}-{fmt(max(v))})"
    if len(v) < total:
        s += f" {len(v)}/{total}"
    return s


def ratio(a, b):
    return f"{statistics.median(a) / statistics.median(b):.2f}" if a and b and statistics.median(b) else "-"


def row(label, n, q, fmt):
    return f"| {label} | {cell(n[0], n[1], fmt)} | {cell(q[0], q[1], fmt)} | {ratio(n[0], q[0])} |"


s1, s2, s0 = (lambda x: f"{x:.1f}"), (lambda x: f"{x:.2f}"), (lambda x: f"{x:.0f}")
print(f"{head.get('DATE', '')}; {head.get('HOST', '')}; commit {head.get('COMMIT', '')}; {l1}")
print()
print("| start-up (median of runs, range in brackets) | Nimbus | QEMU | Nimbus / QEMU |")
print("| --- | --- | --- | --- |")
print(row("exec to the first guest instruction's output, wall s", values("first nimbus", "marker_s"),
          values("first qemu", "marker_s"), s2))
print(row("VMM CPU ms, exec until idle after the first guest instruction", values("first nimbus", "cpu_ms"),
          values("first qemu", "cpu_ms"), s0))
print(row("VMM memory overhead then, MiB", values("first nimbus", "overhead_kib", 1 / 1024),
          values("first qemu", "overhead_kib", 1 / 1024), s1))
print(row("exec to guest user space (Debian kernel, 2 vCPUs, 512 MiB), wall s", values("boot nimbus 2 512", "marker_s"),
          values("boot qemu 2 512", "marker_s"), s2))
print(row("the guest's own uptime at user space, s", values("boot nimbus 2 512", "uptime_s"),
          values("boot qemu 2 512", "uptime_s"), s2))
print(row("VMM memory overhead, guest idle at init, MiB", values("boot nimbus 2 512", "overhead_kib", 1 / 1024),
          values("boot qemu 2 512", "overhead_kib", 1 / 1024), s1))
print(row("VMM PSS then (guest RAM included), MiB", values("boot nimbus 2 512", "pss_kib", 1 / 1024),
          values("boot qemu 2 512", "pss_kib", 1 / 1024), s1))
print()
print("| the same, Nimbus's jar on the JVM's defaults (no AOT cache, no nimbus.jvm-options) | jar | ./nimbus | ./nimbus / jar |")
print("| --- | --- | --- | --- |")
for label, name, key, scale, fmt in (
        ("exec to the first guest instruction's output, wall s", "first", "marker_s", 1, s2),
        ("VMM CPU ms, exec until idle after the first guest instruction", "first", "cpu_ms", 1, s0),
        ("VMM memory overhead then, MiB", "first", "overhead_kib", 1 / 1024, s1),
        ("exec to guest user space, wall s", "boot", "marker_s", 1, s2),
        ("VMM memory overhead, guest idle at init, MiB", "boot", "overhead_kib", 1 / 1024, s1)):
    suffix = "" if name == "first" else " 2 512"
    print(row(label, values(f"{name} nimbus-jar{suffix}", key, scale), values(f"{name} nimbus{suffix}", key, scale), fmt))
print()
for title, configs in (("guest memory (2 vCPUs)", [(2, m) for m in (256, 512, 2048, 16384)]),
                       ("vCPUs (512 MiB)", [(c, 512) for c in (1, 2, 4, 8)])):
    print(f"| {title} | exec to user space, s: Nimbus | QEMU | ratio | VMM overhead, MiB: Nimbus | QEMU | ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for c, m in configs:
        label = f"{m} MiB" if "memory" in title else f"{c} vCPU{'s' if c > 1 else ''}"
        nw, qw = values(f"boot nimbus {c} {m}", "marker_s"), values(f"boot qemu {c} {m}", "marker_s")
        no, qo = values(f"boot nimbus {c} {m}", "overhead_kib", 1 / 1024), values(f"boot qemu {c} {m}", "overhead_kib", 1 / 1024)
        if nw[1] or qw[1]:
            print(f"| {label} | {cell(nw[0], nw[1], s2)} | {cell(qw[0], qw[1], s2)} | {ratio(nw[0], qw[0])} "
                  f"| {cell(no[0], no[1], s1)} | {cell(qo[0], qo[1], s1)} | {ratio(no[0], qo[0])} |")
    print()

queues = sorted({int(m[1]) for m in (re.match(r"IO \w+ (\d+) ", l) for l in lines) if m})
if queues:
    print("| virtio-blk, O_DIRECT in the guest, Linux AIO (nbench) | Nimbus | QEMU | Nimbus / QEMU |")
    print("| --- | --- | --- | --- |")
    for q in queues:
        qs = f"{q} queue{'s' if q > 1 else ''}"
        for mode, bs, qd, unit in (("write", 1048576, 1, "MiB/s"), ("read", 1048576, 1, "MiB/s"),
                                   ("randread", 4096, 1, "IOPS"), ("randread", 4096, 32, "IOPS"),
                                   ("randwrite", 4096, 1, "IOPS"), ("randwrite", 4096, 32, "IOPS")):
            pat = rf"blk mode={mode} bs={bs} qd={qd} "
            f = (lambda d: int(d["bytes"]) / 2**20 / float(d["seconds"])) if unit == "MiB/s" else \
                (lambda d: int(d["ops"]) / float(d["seconds"]))
            label = f"{'sequential' if bs > 4096 else 'random'} {mode.replace('rand', '')} {bs // 1024} KiB, depth {qd}, {qs}, {unit}"
            print(row(label, io("nimbus", q, "guest", pat, f), io("qemu", q, "guest", pat, f), s0 if unit == "IOPS" else s1))
    print()
    rate = lambda d: int(d["bytes"]) / 2**20 / float(d["seconds"])
    print("| virtio-net on a tap, no vhost (nbench) | Nimbus | QEMU | Nimbus / QEMU |")
    print("| --- | --- | --- | --- |")
    print(row("TCP guest to host, MiB/s (L1's clock, accept to end)", io("nimbus", 1, "host", r"tcp-recv ", rate),
              io("qemu", 1, "host", r"tcp-recv ", rate), s1))
    print(row("TCP host to guest, MiB/s (L1's clock, connected to the guest's close)", io("nimbus", 1, "host", r"tcp-send ", rate),
              io("qemu", 1, "host", r"tcp-send ", rate), s1))
    pps = lambda d: int(d["packets"]) / float(d["seconds"]) if float(d["seconds"]) > 0 else 0
    print(row("UDP guest to host, 64-byte datagrams received per second (L1 counts)",
              io("nimbus", 1, "host", r"udp-recv ", pps), io("qemu", 1, "host", r"udp-recv ", pps), s0))
