"""A bulk worker's outbox (peppolnet.bulk.worker._Outbox) over a real pipe: results leave in
batches gathered on the event loop's thread, in order, none lost; a record from another thread
leaves on its own; closing sends what was gathered."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from typing import Any

from peppolnet.bulk.worker import BATCH, LINGER, _Outbox


def _drain(reader: Any) -> list[list[object]]:
    messages = []
    while reader.poll(0.5):
        messages.append(reader.recv())
    return messages


def test_results_leave_in_batches_in_order_and_closing_sends_the_rest() -> None:
    reader, writer = multiprocessing.Pipe(duplex=False)
    total = BATCH * 2 + 5

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        outbox = _Outbox(writer, asyncio.get_running_loop(), task)
        for n in range(total):
            outbox.put(n)
        outbox.close()  # the last 5 were waiting for their linger: sent now

    asyncio.run(main())
    messages = _drain(reader)
    assert [n for message in messages for n in message] == list(range(total))
    assert [len(message) for message in messages] == [BATCH, BATCH, 5]


def test_a_lone_result_leaves_after_its_linger_and_a_record_from_any_thread_alone() -> None:
    reader, writer = multiprocessing.Pipe(duplex=False)

    async def main() -> list[list[object]]:
        task = asyncio.current_task()
        assert task is not None
        outbox = _Outbox(writer, asyncio.get_running_loop(), task)
        outbox.put("result")
        other = threading.Thread(target=outbox.put_from_any_thread, args=("log",))
        other.start()
        other.join()
        await asyncio.sleep(LINGER * 5)  # the linger's timer hands the result over
        sent = await asyncio.to_thread(_drain, reader)
        outbox.close()
        return sent

    assert sorted(asyncio.run(main())) == [["log"], ["result"]]
