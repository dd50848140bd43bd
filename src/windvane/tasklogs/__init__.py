"""A try's log, wherever it was written: read from this machine's log folder, or fetched from the
worker that ran the try, which serves its own log folder over HTTP.

Holds the log files and byte-range reads (:mod:`.files`), the signed requests
(:mod:`.signing`), a worker's log server (:mod:`.server`), the client that
fetches from one (:mod:`.remote`) and the one call the CLI (``windvane tasks
logs``) and the API's log endpoint make (:mod:`.reader`, :func:`read_try_log`).
May import ``windvane.core`` (the store's reads, the log path rule) and
``windvane.errors``; never the CLI, the settings, the API, Celery, alerting or
the test helpers: its users pass settings in.
"""
