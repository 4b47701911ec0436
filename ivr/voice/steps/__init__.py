"""The flow engine's step handlers, one module per node kind (see ivr/hotline/nodes.py)."""

from ivr.voice.steps import account, announce, freeze, handoff, language, menu, second_factor  # noqa: F401
from ivr.voice.steps.base import STEPS, Flow, Step

__all__ = ["STEPS", "Flow", "Step"]
