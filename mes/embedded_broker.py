"""The embedded queue broker: one SQLite file under var/, through kombu's SQLAlchemy transport.

Without ``REDIS_URL`` the web server, the collector and beat hand their tasks to the worker through
``var/broker.sqlite3`` (the settings name ``Transport`` below as the broker transport). A message is
one row, inserted by one transaction and taken by another, so no process ever sees a message that
another is still writing: kombu's filesystem transport, used before, let the worker open a message
file its writer had created but not yet filled, and the worker died on the empty JSON.

kombu's transport as it ships is adjusted where a plant of several processes needs it:

- **polling**: kombu hands every transport option to SQLAlchemy's ``create_engine``, which refuses
  ``polling_interval``; the interval is set on the transport instead (50 ms: a confirmation's
  wake-up reaches the worker well within a second).
- **concurrent writers**: WAL, so writers never block readers, and a busy timeout, so a writer
  waits its turn instead of failing with "database is locked". Commits are not flushed to disk one
  by one (``synchronous=NORMAL``): a power cut may lose the last wake-ups, never a confirmation,
  which is in the outbox of the plant's database; the beat sweep sends it all the same.
- **start-up of several processes at once**: two processes may both find the tables or a queue's
  row missing and both create it; the one that loses finds it there and goes on.
- **nothing left behind**: kombu marks a taken message invisible and keeps it forever (the file
  grows by every sweep, every two seconds). Here taking a message deletes it, in one statement,
  so no two consumers can take the same message. Unacknowledged messages live in the worker's
  memory either way and are put back by kombu when the worker stops.
- **fork safety**: the worker forks its pool processes, and a SQLite connection must not cross a
  fork: a forked child starts with an empty connection pool.
"""

from __future__ import annotations

import functools
import os
from queue import Empty
from typing import Any

from kombu.transport import sqlalchemy as kombu_sqlalchemy
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads
from sqlalchemy import create_engine, delete, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

POLLING_SECONDS = 0.05
BUSY_TIMEOUT_SECONDS = 30
CREATE_ATTEMPTS = 3


def _use_wal(dbapi_connection: Any, _connection_record: Any) -> None:
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class Channel(kombu_sqlalchemy.Channel):
    def _engine_from_config(self) -> Engine:
        engine = create_engine(self.connection.client.hostname, connect_args={"timeout": BUSY_TIMEOUT_SECONDS})
        event.listen(engine, "connect", _use_wal)
        # Pooled connections stay open (closing the last one checkpoints the WAL: milliseconds a message).
        os.register_at_fork(after_in_child=functools.partial(engine.dispose, close=False))
        return engine

    def _open(self):
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                return super()._open()
            except OperationalError as error:
                # Another process created the tables between kombu's look and its CREATE TABLE.
                if "already exists" not in str(error) or attempt == CREATE_ATTEMPTS:
                    raise

    def _get_or_create(self, queue: str):
        try:
            return super()._get_or_create(queue)
        except IntegrityError:
            # Another process declared the same queue at the same moment: its row is there now.
            self.session.rollback()
            return super()._get_or_create(queue)

    def _get(self, queue: str) -> dict:
        queue_id = self._get_or_create(queue).id
        message = self.message_cls.__table__
        oldest = select(message.c.id).where(message.c.queue_id == queue_id).order_by(message.c.id).limit(1)
        try:
            payload = self.session.execute(
                delete(message).where(message.c.id == oldest.scalar_subquery()).returning(message.c.payload)
            ).scalar()
            self.session.commit()
        except OperationalError:
            self.session.rollback()
            raise
        if payload is None:
            raise Empty()
        return loads(bytes_to_str(payload))


class Transport(kombu_sqlalchemy.Transport):
    Channel = Channel
    polling_interval = POLLING_SECONDS
