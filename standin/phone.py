"""A caller's phone call, driven by the app's TwiML the way Twilio drives it.

``Call`` requests the number's voice URL, runs the verbs it gets back and stops whenever the call
needs the caller: at a ``<Gather>`` (press, speak or stay silent), a ``<Record>``, a ``<Dial>``
(the dialled party answers or not), an ``<Enqueue>`` (someone takes the call from the queue), a
hold loop that would go on forever, or the end of the call. Every answer the app gives must be
one Twilio would run (HTTP 200, an XML content type, TwiML that passes ``check_twiml``);
anything else raises ``ApplicationError``, the moment a real caller would hear "an application
error has occurred" and be cut off.

A typical test::

    call = Call(FlaskTransport(client, "https://ivr.example.com", token))
    call.start()
    assert call.state == "gathering"
    call.press("1")
    assert "refund" in call.heard_text()

A REST update of a live call (redirect, inline TwiML, end) interrupts whatever the call does. The
REST stand-in only records it (``redirect_pending``...): it may be serving a request sent from
inside this call's own webhook and must not call back into the app. The call takes it at its
next step: ``continue_loop()`` takes it instead of more hold music, each caller action takes it
first and then acts on what the call does next, and ``take_pending()`` takes it at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin

from standin.errors import ApplicationError, CallbackError, CallStateError
from standin.interpreter import ENDED, State, TwimlInterpreter
from standin.transport import TransportError
from standin.twiml_check import TwiMLError, check_twiml
from standin.webhook import Heard, answer_problem, heard_from, method_of, new_sid

__all__ = ["ApplicationError", "Call", "CallStateError", "CallbackError", "PendingUpdate", "State"]

DIAL_STATUSES = frozenset({"completed", "answered", "busy", "no-answer", "failed", "canceled"})
QUEUE_RESULTS = frozenset(
    {"bridged", "bridging-in-process", "error", "hangup", "leave", "redirected", "queue-full"}
    | {"system-error", "system-shutdown"}
)
# The REST stand-in records updates from its server thread while another thread drives the call.
_UPDATES = threading.Lock()


@dataclass(frozen=True)
class PendingUpdate:
    """A REST update of a live call that the call has not taken yet."""

    kind: Literal["redirect", "twiml", "end"]
    url: str = ""
    method: str = "POST"
    twiml: str = ""


class Call(TwimlInterpreter):
    """One inbound call: the caller's actions, on top of Twilio's running of the TwiML.

    Read ``state``, ``heard``, ``dialed``, ``enqueued``, ``requests``, ``current_url`` and
    ``last_twiml`` to see where the call is; the methods below are what the caller can do.
    """

    # A REST update waiting for the call's next step (a class default: no constructor change).
    _update: PendingUpdate | None = None

    @property
    def _transcriptions(self) -> list[tuple[str, dict[str, str], str]]:
        """Transcriptions Twilio has still to post: (callback URL, recording params, text)."""
        return self.__dict__.setdefault("_pending_transcriptions", [])

    @_transcriptions.setter
    def _transcriptions(self, value: list[tuple[str, dict[str, str], str]]) -> None:
        self.__dict__["_pending_transcriptions"] = value

    # -- what the caller heard -------------------------------------------------------------

    def mark(self) -> int:
        """Return a position in ``heard``, to read only what is heard after this point."""
        return len(self.heard)

    def heard_text(self, since: int = 0) -> str:
        """Join the spoken (``<Say>``) text heard since position ``since``."""
        return " ".join(item.text for item in self.heard[since:] if item.kind == "say")

    def request_paths(self) -> list[str]:
        """The path (and query) of every request the phone sent, in order."""
        base = self.transport.base_url.rstrip("/")
        return [url.removeprefix(base) for url, _ in self.requests]

    # -- what the caller does ----------------------------------------------------------------

    def start(self) -> None:
        """Ring the app's voice URL and run its TwiML until the call needs the caller."""
        if self.state != "new":
            raise CallStateError(f"the call was already started (state {self.state})")
        self._started_at = self._ticks()
        self.state = "running"
        self._fetch(self.voice_url, self.voice_method)
        self._run()

    def press(self, digits: str) -> None:
        """Press keys during a ``<Gather>``, with its numDigits and finishOnKey rules."""
        self.take_pending()
        gather = self._expect("gathering")
        if not set(digits) <= set("0123456789*#"):
            raise ValueError(f"a phone keypad has no key in {digits!r}")
        if "dtmf" not in gather.get("input", "dtmf").split():
            self.silence()  # a speech-only Gather does not listen to keys
            return
        finish = gather.get("finishOnKey", "#")
        limit = int(gather.get("numDigits", "0")) or None
        collected = ""
        for key in digits:
            if finish and key == finish:
                if collected:
                    break
                continue  # Twilio ignores a finishOnKey pressed before any digit
            collected += key
            if limit is not None and len(collected) >= limit:
                break
        if not collected:
            self.silence()  # the Gather times out with nothing entered
            return
        self._continue_at(self._action(gather), method_of(gather), {"Digits": collected})

    def speak(self, text: str, confidence: float = 0.92) -> None:
        """Say something during a ``<Gather>``; a dtmf-only Gather hears it as silence."""
        self.take_pending()
        gather = self._expect("gathering")
        if "speech" not in gather.get("input", "dtmf").split():
            self.silence()
            return
        params = {"SpeechResult": text, "Confidence": str(confidence)}
        self._continue_at(self._action(gather), method_of(gather), params)

    def silence(self) -> None:
        """Give no input: a Gather times out, a Record captures nothing."""
        self.take_pending()
        if self.state == "gathering":
            gather = self._expect("gathering")
            if gather.get("actionOnEmptyResult") == "true":
                self._continue_at(self._action(gather), method_of(gather), {"Digits": ""})
                return
        else:
            self._expect("recording")  # an empty recording requests no action
        self._proceed()

    def record(self, duration: int = 5, digits: str = "#", transcript: str = "") -> None:
        """Leave a recording of ``duration`` seconds ended by ``digits`` (or ``"hangup"``).

        With ``transcribe="true"`` or a ``transcribeCallback`` on the Record, Twilio transcribes
        the recording (``transcript`` is what it will read) and posts the result later:
        ``transcribe()`` delivers it.
        """
        self.take_pending()
        record = self._expect("recording")
        finish = record.get("finishOnKey", "1234567890*#")
        if digits not in ("", "hangup") and (len(digits) != 1 or digits not in finish):
            raise ValueError(f"{digits!r} does not end this recording (finishOnKey {finish!r})")
        duration = min(duration, int(record.get("maxLength", "3600")))
        if duration <= 0:
            self.silence()
            return
        sid = new_sid("RE")
        params = {
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{self.account_sid}/Recordings/{sid}",
            "RecordingSid": sid,
            "RecordingDuration": str(duration),
            "Digits": digits,
        }
        callback = record.get("transcribeCallback")
        if callback and (record.get("transcribe", "true") == "true"):
            self._transcriptions.append(
                (urljoin(self._document_url(), callback.strip()), dict(params), transcript)
            )
        if digits == "hangup":
            # The caller hung up to end the message: Twilio still posts the recording to the
            # action, but the call is over and the TwiML it answers is not run.
            self.state = "completed"
            problems = [self._notify(self._action(record), method_of(record), params)]
            self._end_and_report("completed", problems)
            return
        self._continue_at(self._action(record), method_of(record), params)

    def transcribe(self, status: str = "completed") -> None:
        """Twilio finished transcribing the recordings: post each ``transcribeCallback`` (once)."""
        due, self._transcriptions = self._transcriptions, []
        problems = []
        for url, recording, text in due:
            params = {
                "TranscriptionSid": new_sid("TR"),
                "TranscriptionText": text if status == "completed" else "",
                "TranscriptionStatus": status,
                "TranscriptionUrl": f"{recording['RecordingUrl']}/Transcriptions.json",
                "RecordingSid": recording["RecordingSid"],
                "RecordingUrl": recording["RecordingUrl"],
            }
            problems.append(self._notify(url, "POST", params))
        failures = [problem for problem in problems if problem]
        if failures:
            raise CallbackError("; ".join(failures))

    def answer(self) -> list[Heard]:
        """The dialled party picks up: Twilio runs the noun's ``url`` document on their leg first.

        That document (a "whisper") is heard by the called party only, before the two are
        bridged. Its requests carry the child leg's CallSid and ``ParentCallSid``. A whisper
        that hangs up ends the child leg before the bridge. Returns what the called party heard;
        the call stays in ``dialing`` until ``dial_result()``.
        """
        self.take_pending()
        dial = self._expect("dialing")
        nouns = list(dial)
        if not nouns or not nouns[0].get("url"):
            return []
        noun = nouns[0]
        child_sid = new_sid("CA")
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": child_sid,
            "ParentCallSid": self.call_sid,
            "CallStatus": "in-progress",
            "Direction": "outbound-dial",
            "From": self.from_,
            "To": (noun.text or "").strip(),
        }
        url = urljoin(self._document_url(), noun.get("url", "").strip())
        self.requests.append((url, params))
        try:
            reply = self.transport.request(method_of(noun), url, params)
        except TransportError as exc:
            self._fail(f"whisper {url}: the app could not be reached: {exc}")
        problem = answer_problem(reply, twiml=True)
        if problem:
            self._fail(f"whisper {url}: {problem}")
        try:
            root = check_twiml(reply.body)
        except TwiMLError as exc:
            self._fail(f"whisper {url}: invalid TwiML: {exc}")
        heard = [item for verb in root if verb.tag in ("Say", "Play", "Pause") for item in heard_from(verb)]
        self.agent_heard.extend(heard)
        self.whisper_hung_up = any(verb.tag == "Hangup" for verb in root)
        return heard

    def dial_result(self, status: str = "completed", duration: int = 30) -> None:
        """End the ``<Dial>``: the dialled leg finished with ``status`` after ``duration`` s."""
        self.take_pending()
        dial = self._expect("dialing")
        if status not in DIAL_STATUSES:
            raise ValueError(f"DialCallStatus {status!r} is not one of {sorted(DIAL_STATUSES)}")
        talked = duration if status in ("completed", "answered") else 0
        params = {
            "DialCallStatus": status,
            "DialCallSid": new_sid("CA"),
            "DialCallDuration": str(talked),
        }
        action = dial.get("action")
        if action is None:
            self._proceed()  # without an action Twilio goes on with the next verb
            return
        self._continue_at(action, method_of(dial), params)

    def dequeue(self, result: str = "bridged") -> None:
        """Take the caller out of the queue (``bridged``: an agent talked and hung up)."""
        self.take_pending()
        self._expect("queued")
        if result not in QUEUE_RESULTS:
            raise ValueError(f"QueueResult {result!r} is not one of {sorted(QUEUE_RESULTS)}")
        self._budget = self.max_redirects
        self.state = "running"
        self._leave_queue(result)
        self._run()

    @property
    def on_hold(self) -> bool:
        """Between turns of a hold loop, or at the Gather a hold turn sits in (keys heard on hold).

        That Gather posts to the callback offer; it also comes from a key pressed on hold that met
        a Redis outage (the music again), whose document is not a `/voice/hold` one.
        """
        if self.state != "gathering":
            return self.state == "looping"
        action = self._waiting.get("action", "") if self._waiting is not None else ""
        return "/voice/hold" in (self.current_url or "") or "/voice/callback/offer" in action

    def continue_loop(self, documents: int = 1) -> None:
        """Let a hold loop (or a queue's wait music) run for ``documents`` more documents.

        A pending REST update is the call's next step: it is taken instead, leaving the loop.
        A hold turn whose words and music sit in a Gather is let pass in silence, as most callers
        do: the Gather times out after the music and the turn's Redirect fetches the next one.
        """
        if self.take_pending():
            return
        if self.state == "conference":
            # What the room has to say first (held, let go), then its music's document again.
            self._deliver_room_events()
            for _ in range(documents if self.state == "conference" else 0):
                if self.conferences is None or not self.conferences.more_music(self.call_sid):
                    break
                self._deliver_room_events()
            return
        if self.on_hold and self.state == "gathering":
            for _ in range(documents):
                self.silence()
                if not (self.on_hold and self.state == "gathering"):
                    break
            return
        if self.state not in ("looping", "queued"):
            raise CallStateError(f"the call is not on hold (state {self.state})")
        if self._endless is not None:
            for _ in range(documents):
                self.heard.extend(heard_from(self._endless, times=1))
            return
        if self._pending is None:
            return  # queued on Twilio's default music: there is no document to fetch
        url, method, is_wait_url = self._pending
        self._pending = None
        self._budget = documents
        self.state = "running"
        self._follow(url, method, is_wait_url=is_wait_url)
        self._run()

    def hangup(self) -> None:
        """The caller hangs up, whatever the call was doing."""
        if self.take_pending() and self.state in ENDED:
            return  # Twilio ended the call on a REST request before the caller put the phone down
        self._hang_up()

    def _hang_up(self) -> None:
        """End the call as a hang-up: the Dial or Enqueue action hears of it, then the status."""
        if self.state == "new" or self.state in ENDED:
            raise CallStateError(f"there is no call to hang up (state {self.state})")
        previous, waiting, queue = self.state, self._waiting, self._queue
        self.state = "completed"  # requests from here on carry CallStatus=completed
        problems: list[str | None] = []
        if previous == "conference" and self.conferences is not None:
            self.conference = None
            self.conferences.leave(self.call_sid)
            problems.extend(self.conferences.deliver())
            if waiting is not None and waiting.get("action"):
                # Twilio requests the Dial's action after the room, and ignores its answer.
                problems.append(self._notify(waiting.get("action", ""), method_of(waiting), {}))
        elif previous == "dialing" and waiting is not None and waiting.get("action"):
            # The bridged call ends with the caller; Twilio requests the action and ignores it.
            talked = int(self._ticks() - self._dial_started_at)
            params = {
                "DialCallStatus": "completed",
                "DialCallSid": new_sid("CA"),
                "DialCallDuration": str(talked),
            }
            problems.append(self._notify(waiting.get("action", ""), method_of(waiting), params))
        elif previous == "queued" and queue is not None and queue.enqueue.get("action"):
            self.current_url = queue.resume_url
            params = {"QueueResult": "hangup", **queue.leave_params()}
            action = queue.enqueue.get("action", "")
            problems.append(self._notify(action, method_of(queue.enqueue), params))
        self._end_and_report("completed", problems)

    # -- what Twilio's REST API does to a live call ------------------------------------------

    @property
    def pending_update(self) -> PendingUpdate | None:
        """The REST update the call has not taken yet, if any."""
        return self._update

    def redirect_pending(self, url: str, method: str = "POST") -> None:
        """Record a REST redirect (``Url``, ``Method``): at its next step the call runs ``url``."""
        self._record_update(PendingUpdate("redirect", url=url, method=method.upper()))

    def twiml_pending(self, twiml: str) -> None:
        """Record a REST update with inline ``Twiml``: at its next step the call runs it."""
        self._record_update(PendingUpdate("twiml", twiml=twiml))

    def end_pending(self) -> None:
        """Record ``Status=completed``: at its next step the call ends as if hung up."""
        self._record_update(PendingUpdate("end"))

    def _record_update(self, update: PendingUpdate) -> None:
        """Keep the latest update: on Twilio a later one would override an earlier one at once."""
        with _UPDATES:
            ending = self._update is not None and self._update.kind == "end"
            if self.state == "new" or self.state in ENDED or ending:
                raise CallStateError(f"the call is not in progress (state {self.state})")
            self._update = update

    def take_pending(self) -> bool:
        """Apply the pending REST update now; return whether one was applied.

        A redirect leaves what the call was doing (an Enqueue's action gets
        ``QueueResult=redirected``, its answer not run; a Gather, Record or Dial is dropped without
        its action) and runs the new document. An end is a hang-up. An update stays pending while
        the call runs verbs, and is dropped if the call ended first.
        """
        if self.state == "running":
            return False  # called from inside one of this call's requests: take it afterwards
        with _UPDATES:
            update, self._update = self._update, None
        if update is None or self.state == "new" or self.state in ENDED:
            return False
        if update.kind == "end":
            self._hang_up()
            return True
        problem = None
        queue = self._queue
        if self.state == "conference" and self.conferences is not None:
            # Moved to new TwiML, the call leaves its room (its Dial action is not requested).
            self.conference = None
            self.conferences.leave(self.call_sid, call_status="in-progress")
        if queue is not None and queue.enqueue.get("action"):
            self.current_url = queue.resume_url  # the action resolves against the Enqueue's document
            params = {"QueueResult": "redirected", **queue.leave_params()}
            problem = self._notify(queue.enqueue.get("action", ""), method_of(queue.enqueue), params)
        self._waiting = self._queue = self._pending = self._endless = None
        self._budget = self.max_redirects
        self.state = "running"
        if update.kind == "redirect":
            self._fetch(update.url, update.method)
        else:
            self._load_twiml(update.twiml)
        self._run()
        if problem:
            raise CallbackError(problem)
        return True

    def _load_twiml(self, twiml: str) -> None:
        """Run inline TwiML from the REST API; relative URLs in it resolve as before."""
        try:
            root = check_twiml(twiml)
        except TwiMLError as exc:
            self._fail(f"REST update Twiml: invalid TwiML: {exc}\n{twiml[:2000]}")
        self.last_twiml = root
        self._verbs, self._index, self._endless = list(root), 0, None
