"""Dask schedulers for conformap's chunked tasks: parse, connect, run keyed tasks, progress.

:func:`connect` turns a scheduler spec into a ``distributed.Client``: ``"tcp://host:port"`` of
a running ``dask scheduler``, a ``distributed.Client`` (used as it is), or ``"local:N"`` for a
``LocalCluster`` of N one-thread worker processes on 127.0.0.1. An unreachable address is a
``ConnectionError`` naming it within ``timeout`` seconds. :func:`run_tasks` runs a list of
(key, function, arguments) in-process or on the workers, in completion order, with retries,
deterministic keys, a bounded number in flight and a progress bar on the client.
:mod:`conformap.engine` builds its transform and neighbour-search tasks on these.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Iterator

import numpy as np

__all__ = [
    "CONNECT_TIMEOUT",
    "connect",
    "n_workers",
    "parse_scheduler",
    "run_tasks",
    "task_token",
    "warm_up",
]

#: Seconds to wait for a scheduler before giving up (a clear error, nothing written).
CONNECT_TIMEOUT = 5.0


def parse_scheduler(scheduler) -> tuple[str, object]:
    """Validate a scheduler spec without connecting: ``(kind, value)``.

    ``None`` -> ``("none", None)``; a ``distributed.Client`` -> ``("client", client)``;
    ``"local:N"`` -> ``("local", N)``; ``"tcp://host:port"`` (also ``tls://``, or a bare
    ``host:port``) -> ``("address", "tcp://host:port")``.
    """
    if scheduler is None:
        return "none", None
    with contextlib.suppress(ImportError):
        from distributed import Client

        if isinstance(scheduler, Client):
            return "client", scheduler
    if not isinstance(scheduler, str):
        raise TypeError(f"scheduler: expected an address string, 'local:N' or a "
                        f"distributed.Client, got {type(scheduler).__name__}")
    spec = scheduler.strip()
    if spec.startswith("local:"):
        try:
            n = int(spec[len("local:"):])
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"scheduler: {scheduler!r}: 'local:N' needs a worker count N >= 1, "
                             "e.g. 'local:2'")
        return "local", n
    if "://" not in spec:
        spec = "tcp://" + spec
    proto, _, rest = spec.partition("://")
    host, _, port = rest.rpartition(":")
    if proto not in ("tcp", "tls") or not host or not port.isdigit():
        raise ValueError(f"scheduler: {scheduler!r} is not a scheduler address; use "
                         "'tcp://HOST:PORT' (as printed by `dask scheduler`), 'local:N' for N "
                         "worker processes on this machine, or a distributed.Client")
    return "address", spec


@contextlib.contextmanager
def connect(scheduler, *, timeout: float = CONNECT_TIMEOUT) -> Iterator[object]:
    """Context manager yielding a ``distributed.Client`` for ``scheduler`` (or None for None).

    A ``Client`` passed in is used as it is and left open; ``"local:N"`` starts a
    ``LocalCluster`` of N worker processes with one thread each on 127.0.0.1 (its HTTP endpoint
    on a free port) and stops it on exit; an address is connected to within ``timeout`` seconds.

    Raises
    ------
    ConnectionError
        The scheduler at the address does not answer within ``timeout`` (the message names the
        address and what to do). Nothing has been computed or written at that point.
    """
    kind, value = parse_scheduler(scheduler)
    if kind == "none":
        yield None
        return
    if kind == "client":
        yield value
        return
    import dask
    from distributed import Client, LocalCluster

    if kind == "local":
        # one thread per worker process: the compiled kernels thread inside a task, and numba's
        # thread pool must not be entered from several threads of one process at once
        with dask.config.set({"distributed.worker.daemon": False}), LocalCluster(
            n_workers=value, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=":0", silence_logs=logging.ERROR,
        ) as cluster, Client(cluster) as client:
            warm_up(client)
            yield client
        return
    try:
        with dask.config.set({"distributed.comm.timeouts.connect": f"{timeout}s"}):
            client = Client(value, timeout=f"{timeout}s")
    except (OSError, TimeoutError) as exc:
        raise ConnectionError(
            f"scheduler: cannot reach the Dask scheduler at {value} within {timeout:g} s "
            f"({type(exc).__name__}: {exc}); start one there with `dask scheduler` and workers "
            "with `dask worker ADDRESS --nthreads 1`, check the host and port, or use "
            "'local:N' for N worker processes on this machine"
        ) from None
    try:
        warm_up(client)
        yield client
    finally:
        client.close()


def _warm() -> bool:
    """Load the compiled kernels of a task in this process (numba loads them from its cache
    on first call, about a second per process): run on every worker when connecting."""
    from .neighbors import block_neighbors
    from .wemd import wemd_embedding

    x = np.random.default_rng(0).random((4, 8, 8)).astype(np.float32)
    c = wemd_embedding(x, columns="all")
    block_neighbors(c, c, 2, exclude_self=True)
    return True


def warm_up(client) -> None:
    """Load the task kernels on every worker of ``client`` now (workers that start later load
    them on their first task)."""
    client.run(_warm)


def n_workers(client) -> int:
    """Workers the scheduler knows now (at least 1)."""
    return max(1, len(client.scheduler_info().get("workers", {})))


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return contextlib.nullcontext(None)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="task", leave=False)


def task_token(*parts) -> str:
    """A short deterministic digest of JSON-able parts: for task keys."""
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.blake2b(blob.encode(), digest_size=10).hexdigest()


def run_tasks(client, specs, on_result, *, desc: str, progress: bool, window: int | None):
    """Run ``specs`` = [(key, fn, make_args)] in-process (client None) or on Dask; each result
    goes to ``on_result(key, result)`` (in completion order). ``make_args()`` is called only when
    the task is started or submitted, and at most ``window`` tasks are in flight, so the input
    rows held by the client (and the scheduler) stay bounded."""
    with _progress(len(specs), desc, progress) as bar:
        if client is None:
            for key, fn, make_args in specs:
                on_result(key, fn(*make_args()))
                if bar is not None:
                    bar.update()
            return
        from distributed import as_completed

        it = iter(specs)
        pending = as_completed()

        def submit() -> None:
            spec = next(it, None)
            if spec is not None:
                key, fn, make_args = spec
                pending.add(client.submit(fn, *make_args(), key=key, pure=False, retries=3))

        for _ in range(window or len(specs)):
            submit()
        for fut in pending:
            key, result = fut.key, fut.result()
            fut.release()
            on_result(key, result)
            if bar is not None:
                bar.update()
            submit()
