"""The account directory: looking accounts up and freezing them, behind one small interface.

Two directories ship: `RedisDirectory` (demo accounts read from a file into Redis) and
`HttpDirectory` (the wallet's backend over HTTP, with a timeout). A lookup is *staged* on the
call record while the caller confirms the digits they typed, so the confirming webhook already
has the answer and needs no extra round trip.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import redis
import requests
import yaml

from ivr import keys
from ivr.callcenter.calls import CallWriter
from ivr.phones import last_digits, mask_account, to_e164
from ivr.redis_types import text_or_none
from ivr.scripts import Script

log = logging.getLogger(__name__)

FOUND, NOT_FOUND, UNAVAILABLE = "found", "not_found", "unavailable"


@dataclass(frozen=True)
class Lookup:
    """What the directory said about an account, compared with the caller ID."""

    result: str  # FOUND, NOT_FOUND or UNAVAILABLE
    caller_matches: bool = False
    mobile_last4: str = ""
    status: str = ""

    def as_pending(self, account_id: str) -> dict[str, str]:
        """The call-record fields of a staged lookup."""
        return {
            "pending_account": account_id,
            "pending_result": self.result,
            "pending_verified": "1" if self.caller_matches else "0",
            "pending_last4": self.mobile_last4,
            "pending_status": self.status,
        }


class AccountDirectory(Protocol):
    """Where accounts live."""

    def stage(self, writer: CallWriter, account_id: str, caller: str | None) -> None:
        """Look up `account_id` and record the answer on the call through the webhook's write."""
        ...

    def freeze(self, account_id: str) -> None:
        """Freeze the account (called from a worker job); raises on failure."""
        ...

    def registered_mobile(self, account_id: str) -> str | None:
        """The account's registered mobile in E.164; None when unknown or unreachable."""
        ...


# Stage the account's lookup on the call record (`pending_*`): found, verified by caller ID, last 4.
# `caller`: the caller's E.164 ('' if unknown); `call_ttl`: the record's TTL.
_STAGE = Script(
    """
local mobile = redis.call('HGET', KEYS[1], 'mobile')
local result, verified, last4, status = 'not_found', '0', '', ''
if mobile then
  result = 'found'
  status = redis.call('HGET', KEYS[1], 'status') or ''
  if ARGV[2] ~= '' and ARGV[2] == mobile then verified = '1' end
  last4 = string.sub(mobile, -4)
end
redis.call('HSET', KEYS[2], 'pending_account', ARGV[1], 'pending_result', result,
  'pending_verified', verified, 'pending_last4', last4, 'pending_status', status)
redis.call('EXPIRE', KEYS[2], ARGV[3])
return result
""",
    keys=("account", "call"),
    args=("account_id", "caller", "call_ttl"),
)


class RedisDirectory:
    """Demo accounts, loaded from a YAML file into Redis hashes."""

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn

    def load_file(self, path: Path, default_region: str) -> int:
        """Load (or refresh) the demo accounts; returns how many were loaded."""
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        pipe = self.conn.pipeline(transaction=False)
        count = 0
        for entry in data.get("accounts", []):
            mobile = to_e164(str(entry["mobile"]), default_region)
            if mobile is None:
                raise ValueError(
                    f"{path.name}: account {mask_account(str(entry['id']))} has an invalid mobile"
                )
            key = keys.account(str(entry["id"]))
            pipe.hset(key, mapping={"name": str(entry.get("name", "")), "mobile": mobile})
            # A freeze made by a caller must survive a restart that reloads the file.
            pipe.hsetnx(key, "status", str(entry.get("status", "active")))
            count += 1
        pipe.execute()
        return count

    def stage(self, writer: CallWriter, account_id: str, caller: str | None) -> None:
        """Queue the lookup script on the webhook's write pipeline: no extra round trip."""
        values = {
            "account": keys.account(account_id),
            "call": keys.call(writer.sid),
            "account_id": account_id,
            "caller": caller or "",
            "call_ttl": keys.CALL_TTL_SECONDS,
        }
        writer.also(lambda pipe: _STAGE.queue(pipe, **values))

    def freeze(self, account_id: str) -> None:
        """Mark the demo account frozen."""
        if not self.conn.exists(keys.account(account_id)):
            raise LookupError(f"no account {mask_account(account_id)}")
        self.conn.hset(keys.account(account_id), "status", "frozen")

    def registered_mobile(self, account_id: str) -> str | None:
        """The demo account's mobile."""
        return text_or_none(self.conn.hget(keys.account(account_id), "mobile")) or None


class HttpDirectory:
    """The wallet's backend: GET {url}/{id} -> {"mobile", "status"}; POST {url}/{id}/freeze."""

    def __init__(self, url: str, timeout: float, default_region: str) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.region = default_region
        self.session = requests.Session()

    def stage(self, writer: CallWriter, account_id: str, caller: str | None) -> None:
        """Ask the backend now (bounded by the timeout) and write its answer with the call."""
        writer.set(**self.lookup(account_id, caller).as_pending(account_id))

    def lookup(self, account_id: str, caller: str | None) -> Lookup:
        """What the backend says about the account."""
        try:
            reply = self.session.get(f"{self.url}/{account_id}", timeout=self.timeout)
        except requests.RequestException as exc:
            log.warning(
                "account directory unreachable for %s: %s",
                mask_account(account_id),
                type(exc).__name__,
            )
            return Lookup(UNAVAILABLE)
        if reply.status_code == 404:
            return Lookup(NOT_FOUND)
        if reply.status_code != 200:
            log.warning("account directory answered %s for %s", reply.status_code, mask_account(account_id))
            return Lookup(UNAVAILABLE)
        try:
            body = reply.json()
            mobile = to_e164(str(body.get("mobile", "")), self.region)
        except (ValueError, AttributeError):
            return Lookup(UNAVAILABLE)
        return Lookup(
            FOUND,
            caller_matches=bool(caller) and mobile == caller,
            mobile_last4=last_digits(mobile),
            status=str(body.get("status", "")),
        )

    def freeze(self, account_id: str) -> None:
        """Ask the backend to freeze; raises for anything but a 2xx."""
        reply = self.session.post(f"{self.url}/{account_id}/freeze", timeout=self.timeout)
        reply.raise_for_status()

    def registered_mobile(self, account_id: str) -> str | None:
        """Ask the backend (bounded by the timeout); None when it cannot say."""
        try:
            reply = self.session.get(f"{self.url}/{account_id}", timeout=self.timeout)
            if reply.status_code != 200:
                return None
            return to_e164(str(reply.json().get("mobile", "")), self.region)
        except (requests.RequestException, ValueError, AttributeError):
            return None
