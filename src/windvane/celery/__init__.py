"""The Celery executor: tries queued on a broker (Redis or RabbitMQ) and run by ``windvane celery worker``.

A plug-in shipped with Windvane: the distribution declares it in the entry-point
group ``windvane.executors`` (``celery = windvane.celery.factory:create``), so
``windvane.core`` never imports Celery, which is an optional extra
(``pip install 'windvane[celery]'``). Only :mod:`.factory` may be imported
without Celery installed.

Holds the settings as the executor sees them (:mod:`.config`), the Celery app
(:mod:`.app`), what travels in a message and a result (:mod:`.messages`), the
scheduler's side (:mod:`.executor`, :mod:`.publisher`, :mod:`.results`,
:mod:`.reconcile`) and the worker's side (:mod:`.task`, :mod:`.worker`,
:mod:`.worker_metrics`, :mod:`.retirements`). May import ``windvane.core`` (executors, worker,
store, model), ``windvane.errors`` and ``windvane.plugins``; never the CLI or
``windvane.settings`` (the CLI passes settings in).
"""
