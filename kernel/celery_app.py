"""The Celery app: heavy and GPU steps on Celery workers, over a Redis broker.

Built from settings only when a broker is configured (``NOTEWELL_BROKER_URL``, else
``NOTEWELL_REDIS_URL``): by :class:`~notewell.kernel.pipelines.service.PipelineService`
in the server and by ``notewell worker``. Importing the kernel never imports Celery.

One task, :data:`TASK_NAME`, runs one attempt of one step; its id is the attempt's key
(``<run>:<step>:<attempt>``), so the same attempt is the same task wherever it is
delivered. Messages are JSON only, acknowledged late (after the step ends) and given
back to the queue when the worker process running them is lost; each worker takes one
message per process at a time (``worker_prefetch_multiplier = 1``).

Besides the broker's own keys, the server and the workers share these Redis keys for
each attempt (:class:`JobKeys`); all expire after :data:`KEEP_S`:

========================  ======  ==============================================
key                       type    what
========================  ======  ==============================================
``<p>:events``            stream  worker → server: ``started``, ``chunk``, ``log``, ``end``
``<p>:control``           stream  server → worker: ``cancel``
``<p>:claim``             string  the worker running it now (refreshed while it runs)
``<p>:started``           string  set once the step first started, anywhere
``<p>:outcome``           string  the first outcome (JSON), set once (``SET NX``)
========================  ======  ==============================================

``<p>`` is ``notewell:job:<key>``. Each worker also keeps ``notewell:queue:<q>:alive``
set (for a few heartbeats) for every queue it consumes, so a server can tell a backlog
from a queue that nobody serves.
"""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery  # type: ignore[import-untyped]
from kombu.entity import Exchange, Queue

from notewell.kernel.errors import StartupError
from notewell.kernel.pipelines.executors import BATCH, GPU, INTERACTIVE
from notewell.kernel.settings import Settings

TASK_NAME = "notewell.run_step"
QUEUES = (INTERACTIVE, BATCH, GPU)
"""The queues the kernel routes to (see ``executors.queue_for``); ``resources: {queue: q}``
may name others, which a worker serves with ``notewell worker -Q q``."""

KEEP_S = 24 * 3600
"""How long the per-attempt keys live (an outcome must outlive any redelivery)."""

VISIBILITY_TIMEOUT_S = 60
"""Seconds after which an unacknowledged message whose worker stopped heartbeating goes
back to its queue. Workers extend the messages they hold every ``beat`` seconds."""

UNACKED_INDEX = "unacked_index"


@dataclass(frozen=True, slots=True)
class JobKeys:
    """The Redis keys of one attempt (see the module docstring)."""

    key: str

    @property
    def prefix(self) -> str:
        return f"notewell:job:{self.key}"

    @property
    def events(self) -> str:
        return f"{self.prefix}:events"

    @property
    def control(self) -> str:
        return f"{self.prefix}:control"

    @property
    def claim(self) -> str:
        return f"{self.prefix}:claim"

    @property
    def started(self) -> str:
        return f"{self.prefix}:started"

    @property
    def outcome(self) -> str:
        return f"{self.prefix}:outcome"


def alive_key(queue: str) -> str:
    """The key a worker keeps set while it consumes ``queue``."""
    return f"notewell:queue:{queue}:alive"


def beat_interval(visibility_timeout: float) -> float:
    """How often a worker extends its messages and says it is alive."""
    return max(0.2, min(5.0, visibility_timeout / 4))


def _queue(name: str) -> Queue:
    """A queue bound to a direct exchange of its own name (as Celery makes missing ones)."""
    return Queue(name, Exchange(name, type="direct"), routing_key=name)  # type: ignore[no-untyped-call]


def redis_url_of(settings: Settings) -> str:
    """The broker URL, which must be a Redis one; raises StartupError otherwise."""
    url = settings.effective_broker_url
    if not url or not url.startswith(("redis://", "rediss://", "unix://")):
        raise StartupError(
            "NOTEWELL_BROKER_URL must be a Redis URL (redis://host:port/db): Notewell's "
            "Celery workers use Redis for the broker and to stream step output"
        )
    return str(url)


def create_celery_app(
    settings: Settings, *, visibility_timeout: float = VISIBILITY_TIMEOUT_S
) -> Celery:
    """The Celery app for ``settings``' broker: JSON only, late acks, one message per
    process, idempotent task ids, no result backend (outcomes travel as
    :class:`JobKeys`). Raises StartupError when the broker is not Redis."""
    url = redis_url_of(settings)
    app = Celery("notewell", broker=url, set_as_current=False, fixups=[])
    restore_every = int(max(1, min(10, visibility_timeout // 4)))
    app.conf.update(
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": visibility_timeout,
            "unacked_index_key": UNACKED_INDEX,
            "unacked_restore_interval": restore_every,
            "unacked_restore_throttle": 1,
            "unacked_mutex_expire": int(max(5, visibility_timeout)),
        },
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        task_queues=[_queue(name) for name in QUEUES],
        task_default_queue=BATCH,
        task_create_missing_queues=True,
        task_send_sent_event=False,
        worker_send_task_events=False,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        enable_utc=True,
    )
    return app
