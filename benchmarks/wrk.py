"""The same loads with ``wrk`` (Debian package ``wrk``), whose client costs a tenth of httpx's:
on two cores the Python load generator takes CPU from the server it measures.

Each run writes a Lua script that cycles through prepared requests (path + headers) and prints
the figures as JSON from wrk's ``done`` callback.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from benchmarks.load import LOOPBACK
from benchmarks.stats import Figure

_SCRIPT = """
local requests = {%(requests)s}
local n = 0
request = function()
  n = n + 1
  local r = requests[(n %% #requests) + 1]
  return wrk.format("GET", r[1], r[2])
end
done = function(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %%d, "seconds": %%f, "p50": %%f, "p95": %%f, "p99": %%f, "errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(95) / 1e3, latency:percentile(99) / 1e3,
    e.connect + e.read + e.write + e.timeout + e.status))
end
"""

Request = tuple[str, dict[str, str]]


def available() -> bool:
    return shutil.which("wrk") is not None


def _lua(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here (ASCII)


def _script(requests: list[Request]) -> str:
    items = []
    for path, headers in requests:
        fields = ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in headers.items())
        items.append(f"{{{_lua(path)}, {{{fields}}}}}")
    return _SCRIPT % {"requests": ", ".join(items)}


def run_wrk(
    port: int,
    requests: list[Request],
    *,
    scenario: str,
    step: str,
    connections: int,
    seconds: float,
) -> Figure:
    """``wrk -t1`` with ``connections`` connections for ``seconds`` on 127.0.0.1:``port``."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_script(requests))
    try:
        argv = ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "-s", script.name]
        argv.append(f"http://{LOOPBACK}:{port}/")
        out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=seconds + 60)
    finally:
        Path(script.name).unlink()
    line = next(x for x in out.stdout.splitlines() if x.startswith("WRK "))
    found = json.loads(line[4:])
    rate = found["requests"] / found["seconds"]
    return Figure(
        scenario,
        step,
        found["requests"],
        round(rate, 1),
        round(found["p50"], 2),
        round(found["p95"], 2),
        round(found["p99"], 2),
        found["errors"],
        note=f"wrk c={connections}; ",
    )
