"""Recording retention: recordings older than the hotline's retention are deleted from Twilio.

Every completed recording is indexed when its status callback reports it (`hl:recordings`,
RecordingSid -> when it completed), whether or not its call record is still there (records live
two days, recordings months). The retention job (`ivr/jobs/periodic.py`, hourly) deletes the
recordings past `hotline.recording_retention_days` through Twilio's REST API and forgets them;
one Twilio no longer knows (20404) is forgotten too, one Twilio cannot delete now stays for the
next run.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import redis

from ivr import keys
from ivr.redis_types import texts
from ivr.twilio_rest import Failure, TwilioApi, TwilioError

log = logging.getLogger(__name__)

PER_RUN = 500  # recordings deleted in one run at most: a run stays short; the next goes on


def delete_expired(conn: redis.Redis, twilio: TwilioApi, now: datetime, retention_days: int) -> list[str]:
    """Delete the recordings completed more than `retention_days` ago; the sids deleted."""
    horizon = (now - timedelta(days=retention_days)).timestamp()
    due = texts(conn.zrangebyscore(keys.recordings_kept(), "-inf", horizon, start=0, num=PER_RUN))
    deleted: list[str] = []
    for sid in due:
        try:
            twilio.delete_recording(sid)
        except TwilioError as exc:
            if exc.kind is not Failure.NOT_FOUND:
                log.warning("recording %s kept for the next run: %s", sid, exc)
                continue
        conn.zrem(keys.recordings_kept(), sid)
        deleted.append(sid)
    if deleted:
        log.info("deleted %d recordings past %d days", len(deleted), retention_days)
    return deleted
