"""Turn wrk --latency output (stdin) into one Markdown table row."""
import re, sys

name, conns = sys.argv[1], sys.argv[2]
out = sys.stdin.read()
def lat(p):
    m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if not m:
        return "n/a"
    v, u = float(m.group(1)), m.group(2)
    ms = v / 1000 if u == "us" else v * 1000 if u == "s" else v
    return f"{ms:.2f} ms"
rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
errs = 0
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
if m:
    errs += sum(int(x) for x in m.groups())
m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
if m:
    errs += int(m.group(1))
print(f"| {name} | {conns} | {float(rps.group(1)) if rps else 0:,.0f} | {lat(50)} | {lat(99)} | {errs} |")
