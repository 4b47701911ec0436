"""What can go wrong on a stand-in call, from the caller's side of the line."""

from __future__ import annotations

__all__ = ["APPLICATION_ERROR_PROMPT", "ApplicationError", "CallStateError", "CallbackError"]

# What Twilio says before hanging up when a webhook fails.
APPLICATION_ERROR_PROMPT = "We are sorry, an application error has occurred. Goodbye."


class ApplicationError(RuntimeError):
    """The app answered a webhook with something Twilio cannot run.

    The caller would hear "an application error has occurred" and the call would end (Twilio
    errors 11200, 12100, 12300 and the like). The message carries the request and the answer.
    """


class CallbackError(ApplicationError):
    """A callback whose answer Twilio does not run (status callback, action after a hangup)
    failed; Twilio would log it in its debugger and the caller would notice nothing."""


class CallStateError(RuntimeError):
    """The caller tried something the call is not ready for, such as pressing keys in a Dial."""
