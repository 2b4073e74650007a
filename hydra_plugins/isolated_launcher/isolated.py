"""Run a function in a forked child process, so that a crash there is an error here.

A job that dies with its process (a segfault, `os._exit`, the kernel's out-of-memory killer)
takes only that child with it: the parent raises `JobDied` saying how the child ended, and
goes on with the next job. Used by the local launchers (isolated_launcher.py) and inside each
SLURM job to run the Hydra jobs packed into it.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, Pipe, wait
from typing import Any, Generic, TypeVar

T = TypeVar("T")
FORWARD_AFTER_S = 1  # after a Ctrl-C, when to pass it on to children still running
INTERRUPT_GRACE_S = 10  # ... and how long they then get to stop before SIGKILL


class JobDied(RuntimeError):
    """A job's process ended without handing back a result or an error."""


def how_it_ended(status: int) -> str:
    """`exit code 3` or `killed by signal 9 (SIGKILL)`, from a `waitpid` status."""
    code = os.waitstatus_to_exitcode(status)
    if code >= 0:
        return f"exit code {code}"
    try:
        name = f" ({signal.Signals(-code).name})"
    except ValueError:
        name = ""
    return f"killed by signal {-code}{name}"


def _fork() -> int:
    if not hasattr(os, "fork"):
        raise RuntimeError(
            "running jobs in child processes needs os.fork (Linux, macOS): "
            "use hydra/launcher=basic on this system"
        )
    with warnings.catch_warnings():
        # Python >= 3.12 warns on fork() when native threads exist (OpenBLAS's idle pool after
        # `import numpy`). The child only runs Python code and exits; it never joins them.
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
        return os.fork()


def _child_main(fn: Callable[[], Any], conn: Connection) -> None:
    """In the child: run `fn`, send back what came of it, and leave without cleanup of the
    parent's state (atexit handlers, pytest's teardown, ...)."""
    code = 0
    try:
        try:
            message: tuple[str, Any] = ("value", fn())
        except KeyboardInterrupt as interrupt:
            message, code = ("interrupted", str(interrupt)), 130
        except BaseException as error:  # noqa: BLE001 - every error goes back to the parent
            text = "".join(traceback.format_exception(error))
            if hasattr(error, "add_note"):
                error.add_note(f"(raised in the job's process:)\n{text}")
            message = ("error", error)
        try:
            data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # noqa: BLE001 - an unpicklable value or error
            kind = "error" if message[0] == "error" else "unpicklable value"
            data = pickle.dumps(("error", RuntimeError(f"{kind}: {message[1]!r} ({error})")))
        conn.send_bytes(data)
        conn.close()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001, S110 - a closed stream has nothing to flush
                pass
        os._exit(code)


@dataclass
class Child(Generic[T]):
    """A running child process and the read end of its pipe."""

    pid: int
    conn: Connection

    def result(self) -> T:
        """Block until the child ends; its value, or its error raised here."""
        try:
            data = self.conn.recv_bytes()
        except EOFError:
            data = None
        finally:
            self.conn.close()
        _, status = os.waitpid(self.pid, 0)
        if data is None:
            raise JobDied(f"the job's process ended without a result: {how_it_ended(status)}")
        kind, payload = pickle.loads(data)
        if kind == "interrupted":
            raise KeyboardInterrupt(payload or "a job was interrupted")
        if kind == "error":
            raise payload
        return payload

    def interrupt(self) -> None:
        try:
            os.kill(self.pid, signal.SIGINT)
        except ProcessLookupError:
            pass


def start_isolated(fn: Callable[[], T]) -> Child[T]:
    """Start `fn` in a forked child; `Child.result()` waits for it."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # or the child would print the parent's buffered output again
    read, write = Pipe(duplex=False)
    pid = _fork()
    if pid == 0:
        read.close()
        _child_main(fn, write)
    write.close()
    return Child(pid, read)


def run_isolated(fn: Callable[[], T]) -> T:
    """`fn()` computed in a forked child: its value, its exception, or `JobDied`."""
    return run_all([fn], max_running=1)[0].get()


@dataclass
class Outcome(Generic[T]):
    """What came of one function: a value or an exception."""

    value: Any = None
    error: BaseException | None = None

    def get(self) -> T:
        if self.error is not None:
            raise self.error
        return self.value


def run_all(fns: list[Callable[[], T]], max_running: int) -> list[Outcome[T]]:
    """Each of `fns` in its own forked child, at most `max_running` at a time, in order.
    One's error or death does not stop the others. A Ctrl-C (here or in a child) stops
    them all and raises KeyboardInterrupt once every child has ended."""
    outcomes: list[Outcome[T]] = [Outcome() for _ in fns]
    running: dict[Connection, tuple[int, Child[T]]] = {}
    todo = iter(enumerate(fns))
    try:
        while True:
            while len(running) < max(1, max_running):
                nxt = next(todo, None)
                if nxt is None:
                    break
                index, fn = nxt
                child = start_isolated(fn)
                running[child.conn] = (index, child)
            if not running:
                return outcomes
            for conn in wait(list(running)):
                index, child = running.pop(conn)
                try:
                    outcomes[index].value = child.result()
                except KeyboardInterrupt:
                    raise
                except BaseException as error:  # noqa: BLE001 - recorded, raised by get()
                    outcomes[index].error = error
    except KeyboardInterrupt:
        _stop(list(running.values()))
        raise


def _stop(running: list[tuple[int, Child[Any]]]) -> None:
    """After a Ctrl-C, wait for the children still running to end. A Ctrl-C typed in a
    terminal reaches them too; one sent to this process alone is passed on after a second,
    so that a child never gets a second one while it handles the first."""
    pending = [child for _, child in running]
    for step, grace in [(None, FORWARD_AFTER_S), (Child.interrupt, INTERRUPT_GRACE_S)]:
        if step is not None:
            for child in pending:
                step(child)
        deadline = time.monotonic() + grace
        while pending and time.monotonic() < deadline:
            ended = wait([child.conn for child in pending], timeout=deadline - time.monotonic())
            for child in [c for c in pending if c.conn in ended]:
                pending.remove(child)
                _reap(child)
    for child in pending:
        os.kill(child.pid, signal.SIGKILL)
        _reap(child)


def _reap(child: Child[Any]) -> None:
    try:
        child.result()
    except BaseException:  # noqa: BLE001, S110 - stopping: its outcome no longer counts
        pass
