"""Channels: where alerts are delivered (one implementation per module, the contract in :mod:`.base`).

:mod:`.email` (SMTP, templates in :mod:`.templates`), :mod:`.slack` (webhook or
``chat.postMessage``, Block Kit in :mod:`.slack_blocks`), :mod:`.webhook` (signed
JSON POST). Each ``send`` is one delivery attempt; the dispatcher retries.
"""
