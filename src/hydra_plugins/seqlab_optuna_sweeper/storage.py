"""Where a study lives, the lock its workers share, and how a dead worker's trial is found.

`hydra.sweeper.storage` takes one of three forms:

  sqlite:///<file>.db            RDBStorage; the lock is an flock on <file>.db.seqlab-lock
  postgresql://<user>@<host>/<db> RDBStorage through psycopg 3 (seqlab[postgres]); the lock is
                                 a PostgreSQL advisory lock on the database
  <path>.journal                 JournalStorage(JournalFileBackend), the storage Optuna documents
                                 for shared file systems (NFS); the lock is Optuna's own
                                 symlink lock, on <path>.journal.seqlab.lock

Workers create the study, and each reserves its next trial, under the lock: concurrent
create_study calls race on the schema tables (alembic_version's UNIQUE constraint), and a count
of the study's trials followed by an ask is only exact if no other worker asks in between.

A worker that dies leaves its trial RUNNING. Each running trial sends a heartbeat every
grace_period / 4 seconds; a trial silent for grace_period seconds is recorded FAIL by the next
worker that reserves a trial, which then reuses its slot. RDB storages use Optuna's heartbeat
(stamped with the database server's clock); Optuna's journal storage has none, so the trial's
`seqlab.heartbeat` user attribute holds the time instead (the hosts' clocks must agree to well
within grace_period, as NTP keeps them).
"""

import fcntl
import logging
import os
import threading
import time
import warnings
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqlab.errors import SeqlabError

log = logging.getLogger(__name__)

FORMS = (
    "use sqlite:///<file>.db, postgresql://<user>@<host>/<database> or a path ending in "
    ".journal (Optuna's journal file, for shared file systems)"
)
HEARTBEAT_ATTR = "seqlab.heartbeat"  # seconds since the epoch, for the journal storage
# The sqlite driver's wait for another writer's transaction (Python's default is 5 s).
SQLITE_BUSY_TIMEOUT_S = 60


@dataclass
class Store:
    """An Optuna storage with what its workers need around it."""

    storage: Any  # optuna.storages.BaseStorage
    where: str  # for messages: the file or the URL without its password
    lock: Callable[[], AbstractContextManager[None]]
    grace_period: int

    def fail_stale(self, study: Any) -> None:
        """Record FAIL for every running trial whose heartbeat is older than grace_period."""
        import optuna
        from optuna.trial import TrialState

        if not isinstance(self.storage, optuna.storages.JournalStorage):
            with warnings.catch_warnings():  # fail_stale_trials is marked experimental
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)  # calls _report_stale for each
            return
        now = time.time()
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            last = trial.user_attrs.get(HEARTBEAT_ATTR, trial.datetime_start.timestamp())
            if now - last > self.grace_period:
                try:
                    self.storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
                except optuna.exceptions.UpdateFinishedTrialError:
                    continue  # it ended, or another worker failed it first
                _report_stale(study, trial)

    @contextmanager
    def heartbeat(self, trial: Any) -> Iterator[None]:
        """Beat for `trial` while the block runs (from a thread: the job runs in this one)."""
        stop = threading.Event()
        thread = threading.Thread(target=self._beat, args=(trial._trial_id, stop), daemon=True)
        self._beat_once(trial._trial_id)  # at once: Optuna never fails a trial that never beat
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def _beat(self, trial_id: int, stop: threading.Event) -> None:
        from optuna.exceptions import UpdateFinishedTrialError

        while not stop.wait(heartbeat_interval(self.grace_period)):
            try:
                self._beat_once(trial_id)
            except UpdateFinishedTrialError:
                return  # another worker recorded it FAIL (late beats); the tell will say so
            except Exception as error:  # a busy database: the next beat may get through
                log.warning(f"heartbeat of trial id {trial_id} not recorded: {error}")

    def _beat_once(self, trial_id: int) -> None:
        import optuna

        if isinstance(self.storage, optuna.storages.JournalStorage):
            self.storage.set_trial_user_attr(trial_id, HEARTBEAT_ATTR, time.time())
        else:
            self.storage.record_heartbeat(trial_id)


def heartbeat_interval(grace_period: int) -> int:
    return max(1, grace_period // 4)


def open_store(setting: str | None, sweep_dir: Path, grace_period: int) -> Store:
    """The storage `hydra.sweeper.storage` names (null: sqlite in the sweep dir)."""
    if grace_period < 2:
        raise SeqlabError(
            f"hydra.sweeper.grace_period={grace_period}: a heartbeat needs at least 2 s; "
            "use the default (120) or more than a busy database's pause"
        )
    if setting is None:
        setting = f"sqlite:///{(sweep_dir / 'optuna.db').resolve()}"
    if setting.endswith(".journal"):
        return _journal(Path(setting), grace_period)
    if "://" not in setting:
        raise SeqlabError(f"hydra.sweeper.storage={setting!r} is not a storage; {FORMS}")
    import sqlalchemy

    try:
        url = sqlalchemy.engine.make_url(setting)
    except sqlalchemy.exc.ArgumentError:
        raise SeqlabError(f"hydra.sweeper.storage={setting!r} is not a URL; {FORMS}") from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _sqlite(url, setting, grace_period)
    if backend == "postgresql":
        return _postgresql(url, grace_period)
    raise SeqlabError(f"hydra.sweeper.storage: {backend} is not supported; {FORMS}")


def _sqlite(url: Any, setting: str, grace_period: int) -> Store:
    if url.database in (None, "", ":memory:"):
        raise SeqlabError(
            f"hydra.sweeper.storage={setting!r}: an in-memory database cannot be shared or "
            f"resumed; name a file: {FORMS}"
        )
    # Absolute, so that a connection opened while a job runs in its own dir (hydra.job.chdir)
    # finds the same file.
    database = Path(url.database).resolve()
    url = url.set(database=str(database))
    database.parent.mkdir(parents=True, exist_ok=True)
    lock = _file_lock(database.with_name(database.name + ".seqlab-lock"))
    with lock():  # the first workers would race creating the tables
        storage = _rdb(str(url), grace_period, {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}})
    return Store(storage, str(database), lock, grace_period)


def _postgresql(url: Any, grace_period: int) -> Store:
    import sqlalchemy

    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")  # SQLAlchemy's default is psycopg2
    if url.drivername == "postgresql+psycopg":
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise SeqlabError(
                "hydra.sweeper.storage: a postgresql URL needs psycopg 3; install it with "
                "`pip install 'seqlab[postgres]'` (or psycopg[binary])"
            ) from None
    lock = _advisory_lock(url)
    where = url.render_as_string(hide_password=True)
    try:
        with lock():
            storage = _rdb(url.render_as_string(hide_password=False), grace_period, {})
    except sqlalchemy.exc.OperationalError as error:
        raise SeqlabError(
            f"hydra.sweeper.storage: cannot connect to {where} ({_first_line(error)}); start the "
            "server, or check the user, host, port and database in the URL"
        ) from None
    return Store(storage, where, lock, grace_period)


def _journal(path: Path, grace_period: int) -> Store:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock

    path = path.resolve()  # as for sqlite
    path.parent.mkdir(parents=True, exist_ok=True)
    backend = JournalFileBackend(str(path), lock_obj=JournalFileSymlinkLock(str(path)))
    reservation = JournalFileSymlinkLock(str(path) + ".seqlab")

    @contextmanager
    def lock() -> Iterator[None]:
        reservation.acquire()
        try:
            yield
        finally:
            reservation.release()

    return Store(JournalStorage(backend), str(path), lock, grace_period)


def _rdb(url: str, grace_period: int, engine_kwargs: dict[str, Any]) -> Any:
    import optuna

    with warnings.catch_warnings():  # heartbeat_interval is marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            url,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=heartbeat_interval(grace_period),
            grace_period=grace_period,
            heartbeat_stale_trial_callback=_report_stale,
        )


def _file_lock(path: Path) -> Callable[[], AbstractContextManager[None]]:
    """An flock, which the kernel releases when its holder dies however it dies."""

    @contextmanager
    def lock() -> Iterator[None]:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # closing releases the flock

    return lock


def _advisory_lock(url: Any) -> Callable[[], AbstractContextManager[None]]:
    """A session-level advisory lock, which the server releases when the holder disconnects.
    One for the database, like the file lock of a sqlite file: workers of different studies
    starting at once on a new database would race creating the tables too."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    key = zlib.crc32(b"seqlab-optuna")  # fits PostgreSQL's bigint

    @contextmanager
    def lock() -> Iterator[None]:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})

    return lock


def _report_stale(study: Any, trial: Any) -> None:
    log.warning(
        f"trial {trial.number} sent no heartbeat for the grace period (its worker died or "
        "hangs): recorded FAIL, and its slot runs again"
    )


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
