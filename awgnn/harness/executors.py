"""Where runs execute: in this process, in a local process pool, or on a Ray cluster.

Every executor takes tasks (:class:`~awgnn.harness.runner.RunTask`) and
returns a handle per task; ``wait`` blocks until at least one of the given
handles is done and returns ``(handle, outcome)`` pairs. An outcome holds the
task's run records, or an ``"error"`` traceback when the task raised.
Each task uses one CPU thread, so ``workers`` tasks share the machine's cores;
``capacity`` is that number, and the runner never has more tasks submitted, so
that it can choose the next task when a worker frees up.

Scheduling never touches CUDA: a run places itself on the configured device
(``protocol.device``) where it executes, so several worker processes can share
one GPU, each with its own CUDA context. Workers are spawned, not forked,
because a forked child cannot use CUDA once its parent has.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol

import torch

Outcome = dict[str, Any]


class Executor(Protocol):
    capacity: int

    def submit(self, task: Any) -> Any: ...

    def wait(self, handles: Iterable[Any]) -> list[tuple[Any, Outcome]]: ...

    def shutdown(self, cancel: bool) -> None: ...


def single_thread() -> None:
    torch.set_num_threads(1)


class InlineExecutor:
    """Runs tasks one at a time in this process (``--workers 1``)."""

    capacity = 1

    def __init__(self, function: Callable[[Any], Outcome]) -> None:
        self.function = function
        self.queue: dict[int, Any] = {}
        self.submitted = 0

    def submit(self, task: Any) -> int:
        self.submitted += 1
        self.queue[self.submitted] = task
        return self.submitted

    def wait(self, handles: Iterable[int]) -> list[tuple[int, Outcome]]:
        handle = next(iter(handles))
        task = self.queue.pop(handle)
        threads = torch.get_num_threads()
        try:
            return [(handle, self.function(task))]
        finally:
            torch.set_num_threads(threads)

    def shutdown(self, cancel: bool) -> None:
        self.queue.clear()


class ProcessExecutor:
    """A pool of ``workers`` spawned processes, one single-threaded run each."""

    def __init__(self, function: Callable[[Any], Outcome], workers: int) -> None:
        self.function = function
        self.capacity = workers
        self.pool = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"), initializer=single_thread
        )

    def submit(self, task: Any) -> Future:
        return self.pool.submit(self.function, task)

    def wait(self, handles: Iterable[Future]) -> list[tuple[Any, Outcome]]:
        done, _ = wait(list(handles), return_when=FIRST_COMPLETED)
        return [(future, future.result()) for future in done]

    def shutdown(self, cancel: bool) -> None:
        self.pool.shutdown(wait=not cancel, cancel_futures=cancel)


class RayExecutor:
    """Ray tasks of one CPU each, ``workers`` at a time, on a local instance or the cluster at ``address``.

    Stopping cancels this experiment's tasks only; a Ray instance started here
    is shut down, a cluster given by ``address`` is left running.
    """

    def __init__(
        self, function: Callable[[Any], Outcome], workers: int, address: str | None, gpus_per_run: float
    ) -> None:
        try:
            import ray
        except ImportError:
            raise RuntimeError("the Ray backend needs Ray: pip install 'awgnn[ray]'") from None
        self.ray = ray
        self.capacity = workers
        self.started_here = not ray.is_initialized() and address is None
        if not ray.is_initialized():
            if address is None:
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=address, log_to_driver=False)
        self.remote = ray.remote(num_cpus=1, num_gpus=gpus_per_run, max_retries=0)(function)
        self.running: set[Any] = set()

    def submit(self, task: Any) -> Any:
        reference = self.remote.remote(task)
        self.running.add(reference)
        return reference

    def wait(self, handles: Iterable[Any]) -> list[tuple[Any, Outcome]]:
        done, _ = self.ray.wait(list(handles), num_returns=1)
        self.running.difference_update(done)
        return [(reference, self.ray.get(reference)) for reference in done]

    def shutdown(self, cancel: bool) -> None:
        if cancel:
            for reference in self.running:
                self.ray.cancel(reference, force=True)
        self.running.clear()
        if self.started_here:
            self.ray.shutdown()
