"""The OKPay hotline: a Flask app answering Twilio's voice webhooks."""

from ivr.app import create_app

__all__ = ["create_app"]
