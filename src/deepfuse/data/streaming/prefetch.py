"""Background prefetch: a daemon thread fills a bounded queue from a generator.

The thread only runs pyarrow reads and numpy copies (both release the GIL for the heavy
parts); it never touches ``torch.set_num_threads``. Memory is bounded by ``depth`` items.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch(source: Iterator[T], depth: int) -> Iterator[T]:
    """Yields ``source``'s items, produced up to ``depth`` items ahead by a background thread.

    Errors raised by ``source`` are re-raised in the consumer. Closing the returned generator
    (or breaking out of a ``for`` loop over it) stops the thread promptly.

    Args:
        source: Any iterator.
        depth: Queue size (items produced ahead); must be >= 1.

    Example:
        >>> list(prefetch(iter(range(5)), 2))
        [0, 1, 2, 3, 4]
    """
    q: queue.Queue = queue.Queue(maxsize=max(depth, 1))
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in source:
                if not put(item):
                    return
        except BaseException as err:  # forwarded to the consumer, not lost in the thread
            put(_Failure(err))
            return
        put(_DONE)

    thread = threading.Thread(target=work, name="deepfuse-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
