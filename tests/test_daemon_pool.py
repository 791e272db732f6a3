"""The daemon thread pool the SDK runs handlers on (an ``Executor`` like ThreadPoolExecutor)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

from codex_manager._daemon_pool import DaemonThreadPool


def test_runs_jobs_and_passes_their_results_and_errors_on() -> None:
    pool = DaemonThreadPool(2, "test-pool")
    assert pool.submit(lambda a, b: a + b, 2, b=3).result(timeout=5) == 5
    failing = pool.submit(int, "x")
    with pytest.raises(ValueError, match="invalid literal"):
        failing.result(timeout=5)
    stopping = pool.submit(sys.exit, 3)  # a BaseException is the caller's to judge too
    assert isinstance(stopping.exception(timeout=5), SystemExit)
    pool.shutdown()


def test_workers_are_daemons_reused_and_bounded() -> None:
    pool = DaemonThreadPool(2, "test-pool")
    release = threading.Event()
    names: list[str] = []

    def record() -> None:
        names.append(threading.current_thread().name)
        assert threading.current_thread().daemon
        release.wait(5)

    futures = [pool.submit(record) for _ in range(5)]
    release.set()
    for future in futures:
        future.result(timeout=5)
    assert len(set(names)) <= 2
    assert all(name.startswith("test-pool_") for name in names)
    for _ in range(20):  # sequential jobs find the idle workers: no third thread
        pool.submit(record).result(timeout=5)
    assert len(set(names)) <= 2
    pool.shutdown()


def test_shutdown_can_cancel_what_has_not_started_and_refuses_new_jobs() -> None:
    pool = DaemonThreadPool(1, "test-pool")
    release = threading.Event()
    busy = pool.submit(release.wait, 5)
    queued = pool.submit(lambda: "never")
    pool.shutdown(wait=False, cancel_futures=True)
    assert queued.cancelled()
    release.set()
    assert busy.result(timeout=5) is True
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(lambda: None)
    pool.shutdown(wait=True)  # the worker leaves


def test_a_handler_that_never_returns_lets_the_process_exit() -> None:
    # A skill abandoned at its timeout kept its ThreadPoolExecutor worker, which the
    # interpreter joins at exit: the process never ended, close() or not.
    script = textwrap.dedent(
        """
        import asyncio, threading
        from codex_manager import AsyncCodexManager, CodexManager
        from codex_manager.testing import FakeCodexManager

        forever = threading.Event()

        def register(skills):
            @skills.skill(timeout_seconds=0.2)
            def hang() -> str:
                '''Never returns.'''
                forever.wait()
                return "never"

        with FakeCodexManager() as server:
            with CodexManager(server.base_url) as cm:
                _, skills = cm.remote_skills.create_session(register=register)
                skills.send("CALL hang {}", inject_skills=False)
                server.wait_for_tool_call(skills.session_id)
                [record] = skills.drain_pending_calls()
                assert record.error_kind == "timeout", record

            async def main() -> None:
                async with AsyncCodexManager(server.base_url) as acm:
                    _, skills = await acm.remote_skills.create_session(register=register)
                    await skills.send("CALL hang {}", inject_skills=False)
                    await asyncio.to_thread(server.wait_for_tool_call, skills.session_id)
                    [record] = await skills.drain_pending_calls()
                    assert record.error_kind == "timeout", record

            asyncio.run(main())
        print("done")
        """
    )
    finished = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "done"


def test_shutdown_runs_the_queued_jobs_and_joins_every_worker() -> None:
    # (A worker used to be listed before it was started: a shutdown(wait=True) racing the
    # submit that made it could try to join an unstarted thread.)
    for _ in range(50):
        pool = DaemonThreadPool(4, "test-pool")
        futures = [pool.submit(lambda: None) for _ in range(4)]
        pool.shutdown(wait=True)
        assert all(future.done() for future in futures)
