"""EmailOperator: send an email from a task (Airflow's ``EmailOperator``).

Sent by :class:`~windvane.core.authoring.hooks.smtp.SmtpHook` through the ``[smtp]`` settings
(the same server the alerting email channel uses) or, with ``conn_id``, an smtp Connection.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from windvane.core.authoring import validation as v
from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.authoring.per_instance import PerInstance, keep
from windvane.errors import DagDefinitionError, TaskCommandError


class EmailOperator(BaseOperator):
    """Send an HTML email.

    :param to: recipients: a list, or one string separated by ``,`` or ``;`` (templated).
    :param subject: the subject (templated).
    :param html_content: the HTML body, or a path ending in ``.html`` whose content is rendered
        (templated).
    :param files: paths of files to attach (templated).
    :param cc: carbon-copy recipients, like ``to`` (templated).
    :param bcc: blind-copy recipients, like ``to``; not written in the message (templated).
    :param mime_subtype: the multipart subtype (``mixed``, ``alternative``, ``related``...).
    :param mime_charset: the charset of the HTML part.
    :param conn_id: an smtp connection; None sends through the ``[smtp]`` settings.
    :param from_email: the From address; default the connection's ``from_email`` extra or
        ``[smtp] mail_from`` (templated).
    :param custom_headers: more headers, e.g. ``{"Reply-To": "..."}``.
    """

    template_fields: ClassVar[Sequence[str]] = (
        "to", "from_email", "subject", "html_content", "files", "cc", "bcc",
    )  # fmt: skip
    template_ext: ClassVar[Sequence[str]] = (".html",)
    ui_color: ClassVar[str] = "#e6faf9"
    # Defaults on the class (a task stores what it changes); empty lists are made when first read.
    files: Any = PerInstance(list)
    cc: Any = PerInstance(list)
    bcc: Any = PerInstance(list)
    mime_subtype: str = "mixed"
    mime_charset: str = "utf-8"
    conn_id: str | None = None
    from_email: str | None = None
    custom_headers: PerInstance[dict[str, str]] = PerInstance(dict)

    def __init__(
        self,
        *,
        to: str | Sequence[str],
        subject: str,
        html_content: str,
        files: Sequence[str] | None = None,
        cc: str | Sequence[str] | None = None,
        bcc: str | Sequence[str] | None = None,
        mime_subtype: str = "mixed",
        mime_charset: str = "utf-8",
        conn_id: str | None = None,
        from_email: str | None = None,
        custom_headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = v.owner_name(self.task_id, self.dag.dag_id if self.dag is not None else None)
        self.to: Any = _addresses(to, "to", owner)
        if not self.to:
            raise DagDefinitionError(f"{owner}: to must name at least one recipient")
        self.subject = v.string(subject, "subject", owner)
        self.html_content = v.string(html_content, "html_content", owner)
        keep(self, "files", v.strings(files, "files", owner))
        keep(self, "cc", _addresses(cc, "cc", owner))
        keep(self, "bcc", _addresses(bcc, "bcc", owner))
        keep(self, "mime_subtype", v.string(mime_subtype, "mime_subtype", owner))
        keep(self, "mime_charset", _charset(mime_charset, owner))
        keep(self, "conn_id", v.opt_string(conn_id, "conn_id", owner))
        keep(self, "from_email", v.opt_string(from_email, "from_email", owner))
        headers = {
            key: v.string(value, f"custom_headers[{key!r}]", owner)
            for key, value in v.mapping(custom_headers, "custom_headers", owner).items()
        }
        keep(self, "custom_headers", headers)

    def execute(self, context: dict[str, Any]) -> None:
        from windvane.core.authoring.hooks.smtp import SmtpHook

        try:
            SmtpHook(self.conn_id).send_email(
                self.to,
                self.subject,
                self.html_content,
                files=self.files,
                cc=self.cc,
                bcc=self.bcc,
                mime_subtype=self.mime_subtype,
                mime_charset=self.mime_charset,
                from_email=self.from_email,
                custom_headers=self.custom_headers,
            )
        except TaskCommandError as exc:
            raise TaskCommandError(f"task {self.task_id!r}: {exc}") from None


def _addresses(value: object, name: str, owner: str) -> str | list[str]:
    """A string (split when sent, after rendering) or a list of strings."""
    if isinstance(value, str):
        return value
    return v.strings(value, name, owner)


def _charset(value: object, owner: str) -> str:
    text = v.string(value, "mime_charset", owner)
    try:
        codecs.lookup(text)
    except LookupError:
        raise DagDefinitionError(f"{owner}: mime_charset {text!r} is not a known charset") from None
    return text
