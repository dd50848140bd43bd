"""Channels: where alerts are delivered (one implementation per module, the contract in :mod:`.base`)."""
