"""Errors a user can act on; the ``dglnb`` command prints their message without a traceback.

Subclass :class:`UserError` for any failure whose message already says what went wrong and what to
do (a bad argument, a dataset that is missing or not prepared, a checkpoint from another run); the
command line prints ``dglnb: error: <message>`` and exits with the class's ``exit_status``.
"""

from __future__ import annotations


class UserError(Exception):
    """A failure the user can fix; its message names the cause and what to do."""

    exit_status = 2


class ConfigError(UserError, ValueError):
    """An invalid run setting (a command-line argument, a papermill parameter, a TrainConfig field)."""


class CheckpointError(UserError):
    """A checkpoint that cannot be resumed: unreadable, or written by a run with other settings."""


class RunStopped(UserError):
    """The environment stopped a run (full disk, crashed data-loader worker); the message names the
    cause and the last good checkpoint, which is left intact."""

    exit_status = 1


class WeightsError(UserError):
    """A supplied weights file (``--pretrained``) that is unreadable or does not fit the model."""
