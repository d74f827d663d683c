#!/usr/bin/env python3
"""benchrun.py: runs one VMM process for conformance-tests/l1/bench and prints what it measured as one line,
RESULT {json}. Used inside the L1 guest, the same way for Nimbus and for QEMU.

  benchrun.py --name N --out FILE --marker TEXT [--guest-mib M] [--sample] [--kill-after-sample]
              [--timeout S] -- COMMAND...

It starts COMMAND (its stdout and stderr to FILE, and scanned), and measures from just before the exec:
  marker_s    wall seconds until TEXT first appears in the output (the guest's first word)
  uptime_s    the number after BENCH-UPTIME= if the guest printed one (the guest's own clock)
  exit_s      wall seconds until the process ended; rc its exit status
With --sample, once TEXT has appeared it waits until the process's CPU time stops growing (two 250 ms
samples apart by under 1 ms of CPU, at most 10 s) and records
  cpu_ms      user + system CPU time of the process until then (/proc/PID/stat: all threads, dead ones too)
  pss_kib     its proportional set size (/proc/PID/smaps_rollup)
  guest_kib   the part of it that is guest RAM: the PSS of the mappings that hold the guest's memory
              (--guest-mib: Nimbus maps guest RAM anonymous with MAP_NORESERVE, VmFlags "nr", one mapping per
              RAM range; QEMU maps it as one anonymous mapping of at least the guest's size; the sizes found
              are printed, guest_maps_mib, so a wrong pick shows)
  overhead_kib  pss_kib - guest_kib: the VMM's own memory
--kill-after-sample then ends the process (SIGKILL); a guest that never ends is killed at --timeout (rc -9).
"""
import argparse, json, os, signal, subprocess, sys, threading, time


def cpu_ms(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def memory(pid, guest_mib):
    pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    maps, cur = [], None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and not parts[0].endswith(":"):
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                cur = {"size": (hi - lo) >> 10, "path": parts[5] if len(parts) > 5 else "", "pss": 0, "flags": []}
                maps.append(cur)
            elif parts[0] == "Pss:":
                cur["pss"] = int(parts[1])
            elif parts[0] == "VmFlags:":
                cur["flags"] = parts[1:]
    anon = [m for m in maps if m["path"] == "" and m["size"] >= 16 << 10]
    noreserve = [m for m in anon if "nr" in m["flags"] and m["pss"] > 0]
    want = guest_mib << 10
    if noreserve and sum(m["size"] for m in noreserve) >= want:
        guest, total = [], 0   # the largest first, until they hold the guest's size (not the JVM's own reservations)
        for m in sorted(noreserve, key=lambda m: -m["size"]):
            if total >= want:
                break
            guest.append(m)
            total += m["size"]
    else:
        big = [m for m in anon if m["size"] >= want]
        guest = [max(big, key=lambda m: m["size"])] if big else []
    return pss, sum(m["pss"] for m in guest), [m["size"] >> 10 for m in guest]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--name", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--marker", required=True)
    p.add_argument("--guest-mib", type=int, default=0)
    p.add_argument("--sample", action="store_true")
    p.add_argument("--kill-after-sample", action="store_true")
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    result = {"name": a.name}
    marker = a.marker.encode()
    seen = threading.Event()
    out = open(a.out, "wb")
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def pump():
        tail = b""
        while True:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                return
            out.write(chunk)
            if not seen.is_set():
                tail = (tail + chunk)[-(len(marker) + 65536):]
                if marker in tail:
                    result["marker_s"] = round(time.monotonic() - t0, 3)
                    seen.set()
    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    killer = threading.Timer(a.timeout, lambda: proc.kill())
    killer.start()
    if a.sample:
        while not seen.wait(0.1):
            if proc.poll() is not None:
                break
        if seen.is_set() and proc.poll() is None:
            try:
                last = cpu_ms(proc.pid)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    time.sleep(0.25)
                    now = cpu_ms(proc.pid)
                    if now - last < 1:
                        break
                    last = now
                result["cpu_ms"] = last
                pss, guest, sizes = memory(proc.pid, a.guest_mib)
                result.update(pss_kib=pss, guest_kib=guest, overhead_kib=pss - guest, guest_maps_mib=sizes)
            except (FileNotFoundError, ProcessLookupError):
                pass  # it ended meanwhile: no sample
            if a.kill_after_sample:
                proc.send_signal(signal.SIGKILL)
    rc = proc.wait()
    result["exit_s"] = round(time.monotonic() - t0, 3)
    result["rc"] = rc
    killer.cancel()
    reader.join(5)
    out.close()
    with open(a.out, "rb") as f:
        for line in f.read().decode(errors="replace").splitlines():
            if line.startswith("BENCH-UPTIME="):
                result["uptime_s"] = float(line.split("=", 1)[1].strip())
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
