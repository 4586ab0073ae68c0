"""A bounded load generator: N concurrent keep-alive connections (asyncio + httpx) on loopback,
for a fixed duration and at most a fixed number of operations, recording every latency.

An *operation* may be several requests (consult = ITI-67 then ITI-68): each request's latency is
recorded under its step name, and the whole operation's under ``op``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

LOOPBACK = "127.0.0.1"


class Step:
    """Times one request of an operation; a non-2xx answer or an exception is an error."""

    def __init__(self, result: LoadResult, name: str) -> None:
        self.result, self.name = result, name
        self.failed = False

    async def __aenter__(self) -> Step:
        self.started = time.perf_counter()
        return self

    async def __aexit__(self, kind: object, error: object, _tb: object) -> bool:
        elapsed = time.perf_counter() - self.started
        self.result.record(self.name, elapsed, ok=error is None)
        self.failed = error is not None
        if error is not None:
            self.result.note_error(f"{self.name}: {type(error).__name__}: {str(error)[:160]}")
        return error is not None and not isinstance(error, asyncio.CancelledError)


@dataclass
class LoadResult:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)  # first few error messages
    elapsed: float = 0.0
    client_cpu: float = 0.0  # share of one core used by this load generator

    def record(self, step: str, seconds: float, *, ok: bool) -> None:
        self.latencies.setdefault(step, []).append(seconds)
        if not ok:
            self.errors[step] = self.errors.get(step, 0) + 1

    def note_error(self, message: str) -> None:
        if len(self.samples) < 5:
            self.samples.append(message)

    def step(self, name: str) -> Step:
        return Step(self, name)


Operation = Callable[[httpx.AsyncClient, LoadResult, int], Awaitable[None]]


class HttpError(Exception):
    """A request answered with a status outside 2xx."""


def check(response: httpx.Response) -> httpx.Response:
    if not response.is_success:
        raise HttpError(f"HTTP {response.status_code}: {response.text[:200]}")
    return response


def client(base_url: str, concurrency: int, timeout: float = 60.0) -> httpx.AsyncClient:
    if urlsplit(base_url).hostname != LOOPBACK:
        raise ValueError(f"the benchmarks only load {LOOPBACK}, not {base_url}")
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout)


async def _worker(
    http: httpx.AsyncClient,
    operation: Operation,
    result: LoadResult,
    deadline: float,
    budget: list[int],
) -> None:
    while time.perf_counter() < deadline and budget[0] > 0:
        budget[0] -= 1
        started = time.perf_counter()
        failed_before = sum(result.errors.values())
        await operation(http, result, budget[0])
        ok = sum(result.errors.values()) == failed_before
        result.record("op", time.perf_counter() - started, ok=ok)


async def _run(
    base_url: str, operation: Operation, concurrency: int, seconds: float, max_ops: int
) -> LoadResult:
    result = LoadResult()
    async with client(base_url, concurrency) as http:
        cpu, started = time.process_time(), time.perf_counter()
        deadline, budget = started + seconds, [max_ops]
        workers = [_worker(http, operation, result, deadline, budget) for _ in range(concurrency)]
        await asyncio.gather(*workers)
        result.elapsed = time.perf_counter() - started
        result.client_cpu = (time.process_time() - cpu) / result.elapsed
    return result


def run_load(
    base_url: str, operation: Operation, *, concurrency: int, seconds: float, max_ops: int
) -> LoadResult:
    """Run ``operation`` from ``concurrency`` connections until ``seconds`` or ``max_ops``."""
    return asyncio.run(_run(base_url, operation, concurrency, seconds, max_ops))


async def warm_up(base_url: str, operation: Operation, count: int) -> None:
    """A few sequential operations first: connections, caches and the JIT-less import paths."""
    result = LoadResult()
    async with client(base_url, 1) as http:
        for index in range(count):
            await operation(http, result, index)
    if result.errors:
        raise RuntimeError(f"warm-up failed: {result.samples}")
