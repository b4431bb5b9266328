"""The REST API under load, and the Streamlit page's cost for the same query: one JSON line.

Starts `python -m flixrec serve` on 127.0.0.1 over a home (read-only: the 300k bench home by default, the
demo home with --demo), waits for /readyz, then measures GET /v1/titles/{id}/similar?k=20 for each workers
count, seed mode and concurrency level (10, 50, 200 clients), each level for --duration seconds:

- cold: seeds drawn uniformly over the catalogue, each used once per server (the response cache never
  answers: without answers computed ahead every request runs the core, the cost of a first-time request;
  with them (`python -m ingest answers`) the server sends the stored page: `stored_rate`);
- zipf: seeds drawn by popularity, P(title) proportional to its votes (how real traffic repeats titles):
  the response cache answers the repeats; its hit rate is reported;
- warm: a fixed set of --warm-set seeds requested once beforehand, then again (all hits: the cache's own
  cost, never the core's).

The load generator is wrk (Debian's `wrk`, C, one thread: `make bench` installs it): it costs a small share
of a core, so the figures measure the server rather than the client (a Python httpx client used most of one
of the two cores). A Lua script sends each connection's next path and counts non-200 answers and
`X-FlixRec-Cache: hit` and `stored` answers. With --mix, httpx async clients also send a fixed mix of endpoints
(similar 70%, search 10%, title 10%, facets 5%, POST recommend with 3 seeds 5%; free text too with
--with-text) for per-endpoint latencies (that client shares the cores).

The line: per workers count, per mode and level, requests/s, errors, p50/p90/p99/max ms, the cache hit
rate and the stored-answer rate, the server's CPU milliseconds per request (its processes' user + system time during the level over
the requests answered: the steady figure on a shared machine), the share of a core each worker used
(`worker_cpu_shares`: uneven shares mean the connections were not spread evenly), the share of a core wrk
used, and how long the server took to finish the requests still queued when the level ended (drained
before the next); RSS, PSS and private (USS) memory of the supervisor and of each worker after the load;
the load average, memory read speed and CPU steal around the run (bench/host.py); then the Streamlit
figures: a rerun of the landing page showing a title's similar titles (AppTest, in this process) and the
page's one service call (FlixRec.similar_view).

One file over 400 lines: one benchmark (server, load generators, memory, Streamlit) whose parts share its
start-up and its line.

With --think-ms T, each client pauses a random time of mean T ms (exponential) after each answer, as a person
reading the list does: the levels then measure what that many people see, not the server's capacity (with no
pause, 50 clients keep 50 requests in flight and the latency is their queue: clients / requests per second).
Such levels are keyed "<mode>+think<T>ms".

Usage: python bench/api_load.py [--demo | --home PATH] [--workers 1 2] [--clients 10 50 200]
       [--modes cold zipf warm] [--duration 10] [--think-ms 0 1000] [--mix] [--with-text] [--skip-streamlit]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from flixrec.catalog import Catalog  # noqa: E402
from flixrec.config import Settings, default_home  # noqa: E402
from host import HostWatch  # noqa: E402  (bench/host.py)

BENCH_HOME = Path("/tmp/flixrec-bench/home")
"""Where bench/similar.py --keep leaves its 300k home."""
MIX = (("similar", 70), ("search", 10), ("title", 10), ("facets", 5), ("recommend", 5))
TEXTS = ("A heist that happens inside people's dreams", "Ein Roboter bleibt allein auf der verlassenen Erde zurück",
         "宇宙で遭難した宇宙飛行士が一人で生き延びる", "Un grupo de niños busca el tesoro de un pirata")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _memory_mib(pid: int) -> dict[str, int]:
    """RSS, PSS and USS of a process in MiB (PSS splits shared pages between the processes mapping them, such as
    the memory-mapped snapshot and what forked workers share; USS counts the pages only this process has)."""
    fields: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            name, _, value = line.partition(":")
            if value.strip().endswith("kB"):
                fields[name] = int(value.split()[0])
    except OSError:
        return {}
    return {"rss_mib": fields.get("Rss", 0) // 1024, "pss_mib": fields.get("Pss", 0) // 1024,
            "uss_mib": (fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)) // 1024}


def _server_processes(pid: int) -> list[int]:
    """The server's process and its workers (children, without multiprocessing's resource tracker), by pid."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"resource_tracker" not in command:
            children.append(int(stat.parent.name))
    return [pid, *sorted(children)]


class Server:
    """`python -m flixrec serve` in a subprocess over a home (stopped on exit)."""

    def __init__(self, home: Path, workers: int):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "FLIXREC_HOME": str(home), "PYTHONPATH": str(ROOT)}
        env.pop("FLIXREC_API_KEY", None)
        self.log = tempfile.NamedTemporaryFile(prefix="flixrec-api-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flixrec", "serve", "--port", str(self.port), "--workers", str(workers)],
            env=env, stdout=subprocess.DEVNULL, stderr=self.log, cwd="/tmp",
        )

    def wait_ready(self, timeout: float = 600) -> float:
        """Seconds until /readyz answers 200 (every worker has loaded the index by then, or soon after)."""
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            if self.process.poll() is not None:
                raise SystemExit(f"the API exited: {Path(self.log.name).read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return time.perf_counter() - start
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise SystemExit("the API did not become ready")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        print(f"server log: {self.log.name}", file=sys.stderr)


WRK_SCRIPT = r"""
local paths, next_path, threads = {}, 0, {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  think_ms = tonumber(args[2]) or 0
  math.randomseed(tonumber(args[3]) or 1)
  hits, stored, non200 = 0, 0, 0
end
function delay()
  if think_ms <= 0 then return 0 end
  return -think_ms * math.log(1 - math.random())
end
function request()
  next_path = next_path % #paths + 1
  return wrk.format("GET", paths[next_path], {["Accept-Encoding"] = "gzip"})
end
function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
  local cache = headers["x-flixrec-cache"] or headers["X-FlixRec-Cache"]
  if cache == "hit" then hits = hits + 1 end
  if cache == "stored" then stored = stored + 1 end
end
function done(summary, latency, requests)
  local hits_all, stored_all, non200_all = 0, 0, 0
  for _, thread in ipairs(threads) do
    hits_all = hits_all + thread:get("hits")
    stored_all = stored_all + thread:get("stored")
    non200_all = non200_all + thread:get("non200")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %d, "seconds": %.3f, "hits": %d, "stored": %d, "non200": %d, "socket_errors": %d, ' ..
    '"timeouts": %d, ' ..
    '"p50_ms": %.1f, "p90_ms": %.1f, "p99_ms": %.1f, "max_ms": %.1f, "mean_ms": %.1f}\n',
    summary.requests, summary.duration / 1e6, hits_all, stored_all, non200_all, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000))
end
"""


class SeedPaths:
    """Similar-titles paths for each mode: cold (uniform, each seed once per server), zipf (by votes), warm."""

    def __init__(self, ids: list[str], votes: list[int], warm_set: int, rng: random.Random):
        self.rng = rng
        self.warm = rng.sample(ids, min(warm_set, len(ids)))
        warm = set(self.warm)
        self.cold = [title_id for title_id in rng.sample(ids, len(ids)) if title_id not in warm]
        self.used = 0
        self.ids, self.weights = ids, [max(v, 1) for v in votes]

    @staticmethod
    def path(title_id: str) -> str:
        return f"/v1/titles/{title_id}/similar?k=20"

    def consumed(self, mode: str, count: int) -> None:
        """`count` paths of a mode were sent (cold: those seeds are cached now)."""
        if mode == "cold":
            self.used += count

    def new_server(self) -> None:
        """A new server has an empty cache: the cold seeds can start over."""
        self.used = 0

    def take(self, mode: str, count: int) -> list[str]:
        """`count` paths of a mode (cold: the seeds not used yet on this server; wrk wraps around, with hits, only
        when a level sends more requests than the catalogue has unused titles)."""
        if mode == "cold":
            seeds = self.cold[self.used : self.used + count] or self.cold[:count]
        elif mode == "zipf":
            seeds = self.rng.choices(self.ids, weights=self.weights, k=count)
        else:
            seeds = [self.warm[i % len(self.warm)] for i in range(count)]
        return [self.path(s) for s in seeds]


def _children_cpu_s() -> float:
    """CPU seconds the finished child processes of this one (wrk) have used."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_s(pids: list[int]) -> float:
    """CPU seconds (user + system) these processes have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def _wrk(url: str, paths: list[str], clients: int, duration: float, server_pids: list[int], think_ms: float = 0.0,
         seed: int = 1) -> dict:
    """wrk with `clients` connections for `duration` seconds over `paths` (each request takes the next one);
    with the server's CPU time per request, the share of a core each worker used (an idle worker beside a busy
    one: the connections were not spread) and the share wrk itself used. With `think_ms`, each
    connection waits a random time of that mean (exponential) after each answer before its next request."""
    server_cpu, wrk_cpu = _cpu_s(server_pids), _children_cpu_s()
    worker_cpu = [_cpu_s([pid]) for pid in server_pids[1:]]
    with tempfile.TemporaryDirectory(prefix="flixrec-wrk-") as tmp:
        script, listing = Path(tmp) / "paths.lua", Path(tmp) / "paths.txt"
        script.write_text(WRK_SCRIPT)
        listing.write_text("\n".join(paths) + "\n")
        out = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{max(1, round(duration))}s", "--timeout", "30s",
                              "-s", str(script), url, "--", str(listing), str(think_ms), str(seed)],
                             capture_output=True, text=True, check=False)
    found = [line[4:] for line in out.stdout.splitlines() if line.startswith("WRK ")]
    if out.returncode or not found:
        raise SystemExit(f"wrk failed ({out.returncode}): {out.stderr[-500:]} {out.stdout[-500:]}")
    raw = json.loads(found[0])
    done = raw["requests"]
    server_cpu, wrk_cpu = _cpu_s(server_pids) - server_cpu, _children_cpu_s() - wrk_cpu
    worker_cpu = [_cpu_s([pid]) - before for pid, before in zip(server_pids[1:], worker_cpu)]
    return {
        "requests": done, "requests_per_s": round(done / raw["seconds"], 1),
        "server_cpu_ms_per_request": round(1000 * server_cpu / max(done, 1), 2),
        "wrk_cpu_share": round(wrk_cpu / raw["seconds"], 3),
        **({"worker_cpu_shares": [round(cpu / raw["seconds"], 2) for cpu in worker_cpu]}
           if len(worker_cpu) > 1 else {}),
        "errors": raw["non200"] + raw["socket_errors"] + raw["timeouts"],
        "hit_rate": round(raw["hits"] / done, 3) if done else 0.0,
        "stored_rate": round(raw["stored"] / done, 3) if done else 0.0,
        **{key: raw[key] for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms")},
    }


def _drain(url: str, workers: int, timeout: float = 120.0) -> float:
    """Wait until the server has finished the requests still queued from a level (the next level must not wait
    behind them): until /healthz, which queues behind them in each worker's thread pool, answers within 250 ms
    on a few new connections. Returns the seconds waited."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        times = []
        for _ in range(2 * workers):
            sent = time.perf_counter()
            httpx.get(f"{url}/healthz", timeout=timeout)
            times.append(time.perf_counter() - sent)
        if max(times) < 0.25:
            break
        time.sleep(0.2)
    return round(time.perf_counter() - start, 1)


async def _prime(url: str, paths: list[str], workers: int) -> None:
    """Request each path until every worker has probably cached it (each worker keeps its own cache; the kernel
    hands each new connection to one of them): 3 x workers times, over fresh connections."""
    for _ in range(3 * workers if workers > 1 else 1):
        async with httpx.AsyncClient(base_url=url, timeout=60, headers={"Accept-Encoding": "gzip"},
                                     limits=httpx.Limits(max_connections=4)) as client:
            await asyncio.gather(*(client.get(path) for path in paths))


def _requests(ids: list[str], names: list[str], n: int, with_text: bool, rng: random.Random) -> list[tuple]:
    """n requests (endpoint, method, url, body) in the fixed mix."""
    mix = list(MIX) + ([("text", 5)] if with_text else [])
    kinds = rng.choices([m[0] for m in mix], weights=[m[1] for m in mix], k=n)
    out = []
    for kind in kinds:
        title_id = rng.choice(ids)
        if kind == "similar":
            out.append((kind, "GET", f"/v1/titles/{title_id}/similar", {"k": 20}, None))
        elif kind == "search":
            out.append((kind, "GET", "/v1/titles/search", {"q": rng.choice(names)[:30]}, None))
        elif kind == "title":
            out.append((kind, "GET", f"/v1/titles/{title_id}", None, None))
        elif kind == "facets":
            out.append((kind, "GET", "/v1/facets", None, None))
        elif kind == "recommend":
            out.append((kind, "POST", "/v1/recommend", None, {"seeds": rng.sample(ids, 3), "k": 20}))
        else:
            out.append((kind, "GET", "/v1/recommend", {"text": rng.choice(TEXTS), "k": 20}, None))
    return out


async def _drive(url: str, requests: list[tuple], clients: int) -> dict:
    """Send the requests with `clients` concurrent connections; latencies per endpoint, errors, requests/s."""
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)  # by HTTP status or exception name
    queue = iter(requests)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        async def worker() -> None:
            for kind, method, path, params, body in queue:
                start = time.perf_counter()
                try:
                    response = await client.request(method, path, params=params, json=body)
                    error = None if response.status_code == 200 else f"{kind}:{response.status_code}"
                except httpx.HTTPError as exc:
                    error = f"{kind}:{type(exc).__name__}"
                latencies[kind].append((time.perf_counter() - start) * 1000)
                if error:
                    errors[error] += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - start

    def pct(values: list[float], q: float) -> float:
        return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 1) if len(values) > 1 else round(values[0], 1)

    return {
        "requests_per_s": round(len(requests) / elapsed, 1),
        "errors": sum(errors.values()),
        "error_kinds": dict(sorted(errors.items())),
        "endpoints": {kind: {"n": len(v), "p50_ms": pct(v, 50), "p95_ms": pct(v, 95), "p99_ms": pct(v, 99)}
                      for kind, v in sorted(latencies.items())},
    }


def _streamlit_figures(home: Path, title_id: str, runs: int) -> dict:
    """The landing page showing a title's similar titles: a rerun (AppTest) and its one service call."""
    os.environ["FLIXREC_HOME"] = str(home)
    from streamlit.testing.v1 import AppTest

    from flixrec.service import FlixRec

    service = FlixRec(Settings.from_mapping({"FLIXREC_HOME": str(home)}))
    service.similar_view(title_id, k=20)
    calls = []
    for _ in range(runs):
        start = time.perf_counter()
        service.similar_view(title_id, k=20)
        calls.append((time.perf_counter() - start) * 1000)
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=600)
    app.query_params["title"] = title_id
    start = time.perf_counter()
    app.run()
    first = time.perf_counter() - start
    if app.exception:
        return {"error": app.exception[0].message[:200]}
    reruns = []
    for _ in range(runs):
        start = time.perf_counter()
        app.run()
        reruns.append((time.perf_counter() - start) * 1000)
    return {"first_run_s": round(first, 2), "similar_rerun_p50_ms": round(statistics.median(reruns), 1),
            "similar_rerun_p95_ms": round(sorted(reruns)[int(0.95 * (len(reruns) - 1))], 1),
            "similar_view_p50_ms": round(statistics.median(calls), 1), "runs": runs}


def _catalogue(home: Path) -> tuple[list[str], list[str], list[int]]:
    """Every title's id, name and votes (0 when unknown), in id order."""
    settings = Settings.from_mapping({"FLIXREC_HOME": str(home)})
    catalog = Catalog.open(settings.database_url, create=False)
    if not catalog.exists():
        raise SystemExit(f"no catalogue in {home}: build it (make demo, or bench/similar.py --keep)")
    with catalog.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT title_id, title, COALESCE(votes, 0) FROM titles ORDER BY title_id").all()
    catalog.engine.dispose()
    return [r[0] for r in rows], [r[1] for r in rows], [int(r[2]) for r in rows]


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main(argv: list[str] | None = None) -> int:
    """Run the similar-titles levels (and the mix) for each workers count, then the Streamlit figures; one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--demo", action="store_true", help="the demo home (FLIXREC_HOME or ~/.cache/flixrec)")
    where.add_argument("--home", type=Path, help=f"a built home (default {BENCH_HOME}, from bench/similar.py --keep)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--modes", nargs="+", choices=("cold", "zipf", "warm"), default=["cold", "zipf", "warm"])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk level")
    parser.add_argument("--think-ms", type=float, nargs="+", default=[0.0],
                        help="mean pause of each client between its requests (0: none, the server's capacity; "
                             "1000: people who read each answer for about a second); one set of levels each")
    parser.add_argument("--warm-set", type=int, default=200, help="seeds of the warm mode")
    parser.add_argument("--mix", action="store_true", help="also the httpx mix of endpoints (per-endpoint latencies)")
    parser.add_argument("--requests", type=int, default=3000, help="requests per level of the mix")
    parser.add_argument("--with-text", action="store_true", help="free-text requests in the mix (loads the model)")
    parser.add_argument("--streamlit-runs", type=int, default=15)
    parser.add_argument("--skip-streamlit", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: make bench installs it (apt-get install wrk)")
    home = Path(os.environ.get("FLIXREC_HOME") or default_home()) if args.demo else (args.home or BENCH_HOME)
    rng = random.Random(args.seed)
    ids, names, votes = _catalogue(home)
    seeds = SeedPaths(ids, votes, args.warm_set, rng)
    sample = rng.sample(range(len(ids)), min(2000, len(ids)))
    mix_ids, mix_names = [ids[i] for i in sample], [names[i] for i in sample]

    line: dict = {"suite": "api_load", "home": "demo" if args.demo else str(home), "titles": len(ids),
                  "endpoint": "GET /v1/titles/{id}/similar?k=20", "generator": "wrk -t1", "duration_s": args.duration,
                  "cpus": os.cpu_count(), "load_before": _load(), "runs": {}}
    host = HostWatch()
    for workers in args.workers:
        server = Server(home, workers)
        seeds.new_server()
        try:
            ready_s = server.wait_ready()
            asyncio.run(_prime(server.url, seeds.take("warm", args.warm_set), workers))  # the warm set, in every worker
            run: dict = {"ready_s": round(ready_s, 2), "load_before": _load()}
            pids = _server_processes(server.process.pid)
            for think_ms in args.think_ms:
                for mode in args.modes:
                    key = mode if not think_ms else f"{mode}+think{think_ms:g}ms"
                    run[key] = {}
                    for clients in args.clients:
                        paths = seeds.take(mode, 40_000)
                        figures = _wrk(server.url, paths, clients, args.duration, pids, think_ms,
                                       rng.randrange(1 << 30))
                        seeds.consumed(mode, figures["requests"] + clients)  # and those still in flight at the end
                        figures["drain_s"] = _drain(server.url, workers)
                        run[key][str(clients)] = figures
                        print(f"workers={workers} {key} clients={clients}: {figures}", file=sys.stderr)
            if args.mix:
                run["mix"] = {}
                for clients in args.clients:
                    requests = _requests(mix_ids, mix_names, args.requests, args.with_text, rng)
                    run["mix"][str(clients)] = asyncio.run(_drive(server.url, requests, clients))
            run["load_after"] = _load()
            processes = _server_processes(server.process.pid)
            run["memory"] = {"supervisor" if workers > 1 else "server": _memory_mib(processes[0]),
                             **({"workers": [_memory_mib(pid) for pid in processes[1:]]} if workers > 1 else {})}
            line["runs"][str(workers)] = run
        finally:
            server.stop()
    if not args.skip_streamlit:
        line["streamlit"] = _streamlit_figures(home, seeds.cold[-1], args.streamlit_runs)
    line["load_after"] = _load()
    line["host"] = host.figures()
    print(json.dumps(line, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
