"""A thread pool whose workers do not keep the process alive.

``concurrent.futures.ThreadPoolExecutor`` joins its workers when the interpreter exits. A
handler that never returns (one abandoned at its timeout: Python cannot stop a thread) would
then keep the process from exiting, after ``close()`` and all. The SDK runs handlers on this
pool instead: same ``Executor`` interface, daemon workers, started on demand and reused.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(slots=True)
class _Job:
    run: Callable[[], None]
    """Runs the call and settles its future (unless it was cancelled first)."""
    cancel: Callable[[], bool]


class DaemonThreadPool(concurrent.futures.Executor):
    """An executor of at most ``max_workers`` daemon threads named ``{name}_{n}``."""

    def __init__(self, max_workers: int, name: str) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1 (got {max_workers})")
        self._max_workers = max_workers
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        # Released by a worker each time it goes back to wait: a job that takes one finds
        # a worker about to be free, so no thread is started for it (ThreadPoolExecutor's way).
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._serial = itertools.count()
        self._shut_down = False

    def submit(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[T]:
        """Run ``fn(*args, **kwargs)`` in a worker; its future."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # the caller's to judge, as in ThreadPoolExecutor
                future.set_exception(exc)
            else:
                future.set_result(result)

        with self._lock:
            if self._shut_down:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._jobs.put(_Job(run, future.cancel))
            if self._idle.acquire(blocking=False) or len(self._threads) >= self._max_workers:
                return future
            worker = threading.Thread(
                target=self._work, name=f"{self._name}_{next(self._serial)}", daemon=True
            )
            worker.start()  # under the lock: shutdown(wait=True) never joins an unstarted one
            self._threads.append(worker)
        return future

    def _work(self) -> None:
        jobs = self._jobs
        while True:
            job = jobs.get()
            if job is None:  # shut down: pass the word on to the next worker
                jobs.put(None)
                return
            job.run()
            del job  # before waiting: a finished job's arguments must not live on here
            self._idle.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Take no more jobs; workers leave once the queued ones ran (``cancel_futures``:
        those not started are cancelled). ``wait`` joins the workers."""
        with self._lock:
            self._shut_down = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job.cancel()
        self._jobs.put(None)
        if wait:
            for thread in threads:
                thread.join()


__all__ = ["DaemonThreadPool"]
