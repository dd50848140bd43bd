"""The secrets masker: what it hides, in which forms, and what it leaves alone."""

from __future__ import annotations

import io
import logging
from urllib.parse import quote, quote_plus

from hypothesis import given
from hypothesis import strategies as st

from windvane.core.task_api.masking import MASK, MaskedStream, MaskingFilter, SecretsMasker, masker


def test_a_secret_is_masked_as_written_and_url_encoded() -> None:
    m = SecretsMasker()
    m.add("p@ss word")
    line = f"a p@ss word b {quote('p@ss word', safe='')} c {quote_plus('p@ss word')}"
    assert m.redact(line) == "a *** b *** c ***"


def test_secrets_shorter_than_four_characters_are_not_masked() -> None:
    m = SecretsMasker()
    m.add("abc")
    m.add("")
    assert m.redact("abc and a") == "abc and a"
    assert len(m) == 0


def test_the_longest_secret_wins_when_one_contains_another() -> None:
    m = SecretsMasker()
    m.add("secret")
    m.add("secret-and-more")
    assert m.redact("x secret-and-more y secret") == "x *** y ***"


def test_each_line_of_a_multi_line_secret_is_masked() -> None:
    m = SecretsMasker()
    key = "-----BEGIN KEY-----\nAAAABBBBCCCC\n-----END KEY-----"
    m.add(key)
    assert "AAAABBBBCCCC" not in m.redact("line: AAAABBBBCCCC")


def test_sensitive_names_and_fields() -> None:
    m = SecretsMasker(["my_custom"])
    assert m.is_sensitive_name("DB_PASSWORD") and m.is_sensitive_name("x-Authorization")
    assert m.is_sensitive_name("api_key") and m.is_sensitive_name("MY_CUSTOM_value")
    assert not m.is_sensitive_name("bucket")
    m.add_sensitive_fields(
        {"region": "eu-west-1", "nested": {"access_token": "tok-abcdef"}, "api_key": "k-12345"}
    )
    assert m.redact("eu-west-1 tok-abcdef k-12345") == "eu-west-1 *** ***"


def test_the_masked_stream_masks_a_secret_written_in_pieces() -> None:
    inner = io.StringIO()
    stream = MaskedStream(inner)
    masker().add("hunter2-pw")
    stream.write("the pw is hun")
    stream.write("ter2-pw, ok\nnext ")
    stream.flush()
    assert inner.getvalue() == "the pw is ***, ok\nnext "


def test_the_logging_filter_masks_messages_arguments_and_tracebacks() -> None:
    masker().add("hunter2-pw")
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(MaskingFilter())
    logger = logging.getLogger("test.masking")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError("bad hunter2-pw")
        except ValueError:
            logger.exception("login %s failed", "hunter2-pw")
    finally:
        logger.removeHandler(handler)
    assert "hunter2-pw" not in out.getvalue()
    assert "login *** failed" in out.getvalue() and "ValueError: bad ***" in out.getvalue()


_TEXT = st.text(alphabet=st.characters(blacklist_characters="*", blacklist_categories=("Cs",)), max_size=40)


@given(secret=_TEXT.filter(lambda s: len(s) >= 4), before=_TEXT, after=_TEXT)
def test_a_registered_secret_never_survives_redaction(secret: str, before: str, after: str) -> None:
    m = SecretsMasker()
    m.add(secret)
    shown = m.redact(before + secret + after)
    assert secret not in shown
    assert MASK in shown
