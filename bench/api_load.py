"""The REST API under load, and the Streamlit page's cost for the same query: one JSON line.

Starts `python -m flixrec serve` on 127.0.0.1 over a home (read-only: the 300k bench home by default, the
demo home with --demo), waits for /readyz, then drives it with httpx async clients: for each concurrency
level (10, 50, 200 clients) a fixed number of requests over a fixed mix (similar 70%, search 10%, title
10%, facets 5%, POST recommend with 3 seeds 5%; free text too with --with-text), no If-None-Match (every
request does the work). Seeds and names are drawn from the home's catalogue with a fixed random seed.
It stops the server and measures the Streamlit landing page: a rerun showing a title's similar titles
(AppTest, in this process) and the page's one service call (FlixRec.similar_view).

The line: per workers count and level, requests/s, errors and p50/p95/p99 ms per endpoint; RSS and PSS
(proportional: shared pages split between processes) per server process after the load; the Streamlit
figures. The load generator shares the machine's cores with the server.

Usage: python bench/api_load.py [--demo | --home PATH] [--workers 1 2] [--clients 10 50 200]
       [--requests 3000] [--with-text] [--skip-streamlit]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
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
    """RSS and PSS of a process in MiB (PSS splits shared pages, such as the memory-mapped snapshot)."""
    out = {}
    for key, path in (("rss_mib", f"/proc/{pid}/status"), ("pss_mib", f"/proc/{pid}/smaps_rollup")):
        try:
            for line in Path(path).read_text().splitlines():
                name, _, value = line.partition(":")
                if name in ("VmRSS", "Pss"):
                    out[key] = int(value.split()[0]) // 1024
        except OSError:
            pass
    return out


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


def main(argv: list[str] | None = None) -> int:
    """Run the load levels for each workers count, then the Streamlit figures; print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--demo", action="store_true", help="the demo home (FLIXREC_HOME or ~/.cache/flixrec)")
    where.add_argument("--home", type=Path, help=f"a built home (default {BENCH_HOME}, from bench/similar.py --keep)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--requests", type=int, default=3000, help="requests per level")
    parser.add_argument("--with-text", action="store_true", help="free-text requests too (loads the model in each worker)")
    parser.add_argument("--streamlit-runs", type=int, default=15)
    parser.add_argument("--skip-streamlit", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    home = Path(os.environ.get("FLIXREC_HOME") or default_home()) if args.demo else (args.home or BENCH_HOME)
    settings = Settings.from_mapping({"FLIXREC_HOME": str(home)})
    catalog = Catalog.open(settings.database_url, create=False)
    if not catalog.exists():
        raise SystemExit(f"no catalogue in {home}: build it (make demo, or bench/similar.py --keep)")
    rng = random.Random(args.seed)
    names = [(title_id, name) for title_id, name, _, _ in catalog.iter_names()]
    sample = rng.sample(names, min(2000, len(names)))
    ids, queries = [t for t, _ in sample], [n for _, n in sample]
    catalog.engine.dispose()

    line: dict = {"suite": "api_load", "home": "demo" if args.demo else str(home), "titles": len(names),
                  "requests_per_level": args.requests, "mix": dict(MIX), "cpus": os.cpu_count(), "runs": {}}
    for workers in args.workers:
        server = Server(home, workers)
        try:
            ready_s = server.wait_ready()
            asyncio.run(_drive(server.url, _requests(ids, queries, 300, args.with_text, rng), 10))  # warm every worker
            run: dict = {"ready_s": round(ready_s, 2), "levels": {}}
            for clients in args.clients:
                requests = _requests(ids, queries, args.requests, args.with_text, rng)
                run["levels"][str(clients)] = asyncio.run(_drive(server.url, requests, clients))
                print(f"workers={workers} clients={clients}: {run['levels'][str(clients)]['requests_per_s']} req/s",
                      file=sys.stderr)
            processes = _server_processes(server.process.pid)
            serving = processes[1:] if workers > 1 else processes  # with workers, the parent only supervises
            run["memory_per_worker"] = [_memory_mib(pid) for pid in serving]
            line["runs"][str(workers)] = run
        finally:
            server.stop()
    if not args.skip_streamlit:
        line["streamlit"] = _streamlit_figures(home, ids[0], args.streamlit_runs)
    print(json.dumps(line, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
