"""Finding and importing a DAG's file in this process (``dags test``, ``tasks test``).

The file comes from the DAG's row in the metadata database when there is one
(and it still exists); otherwise the DAGs folder is scanned like the DAG
processor does. A file that fails to import is reported with its trimmed
traceback: at once when it is the DAG's own file, and in the "not found"
error when the scan did not find the DAG elsewhere.
"""

from __future__ import annotations

import logging
import os

from sqlalchemy.exc import SQLAlchemyError

from windvane.cli.wiring import create_engine
from windvane.core.authoring.dag import DAG
from windvane.core.processor.discovery import list_dag_files, might_contain_dag
from windvane.core.store.dags import get_dag
from windvane.core.store.engine import begin_read
from windvane.core.store.migrate import check
from windvane.core.worker.dag_loader import DagLoader
from windvane.errors import DagImportError, NotFoundError, StoreError
from windvane.settings import Settings

log = logging.getLogger(__name__)


def stored_fileloc(settings: Settings, dag_id: str) -> str | None:
    """The file the DAG processor last found ``dag_id`` in; None without a usable database or row."""
    try:
        engine = create_engine(settings)
    except StoreError:
        return None
    try:
        if not check(engine).is_current:
            return None
        with begin_read(engine) as conn:
            return get_dag(conn, dag_id).fileloc
    except (NotFoundError, StoreError, SQLAlchemyError) as exc:
        log.debug("no stored file for DAG %r: %s", dag_id, exc)
        return None
    finally:
        engine.dispose()


def load_dag(settings: Settings, dag_id: str, loader: DagLoader | None = None) -> DAG:
    """Import the file defining ``dag_id`` and return that DAG.

    Raises :class:`DagImportError` (with the user's traceback) when the DAG's
    known file fails to import, and :class:`NotFoundError` naming the DAG and
    the folder (and any files that failed to import) when no file defines it.
    """
    loader = loader or DagLoader()
    fileloc = stored_fileloc(settings, dag_id)
    if fileloc is not None and os.path.isfile(fileloc):
        return loader.get_dag(fileloc, dag_id)
    folder = str(settings.core.dags_folder)
    failures: list[DagImportError] = []
    for path in list_dag_files(folder):
        try:
            with open(path, "rb") as handle:
                if not might_contain_dag(handle.read()):
                    continue
            dags = loader.dags_in(path)
        except OSError:
            continue
        except DagImportError as exc:
            failures.append(exc)
            continue
        if dag_id in dags:
            return dags[dag_id]
    message = f"DAG {dag_id!r} is not defined in any file of the DAGs folder {folder}"
    if failures:
        details = "\n\n".join(str(exc) for exc in failures)
        message += f"; {len(failures)} file(s) failed to import and may define it:\n{details}"
    raise NotFoundError(message)
