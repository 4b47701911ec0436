"""The Twilio side of a stand-in call: fetch TwiML documents and run their verbs.

``TwimlInterpreter`` holds the state of one call and runs verbs until the call needs the caller
(a Gather, a Record, a Dial, a queue, a hold loop) or ends. It follows Twilio's documented
semantics: relative URLs resolve against the current document, a Gather's and a Record's action
default to the current document, a Dial or Enqueue without an action falls through to the next
verb, an ``<Enqueue>`` waitUrl is requested again each time its document ends, and every answer
must be runnable TwiML or the call ends with an application error. ``standin.phone.Call`` adds
what the caller does.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import Any, Literal, NoReturn
from urllib.parse import urljoin

from standin.conference import Conference, Conferences, Participant, RoomSettings
from standin.errors import (
    APPLICATION_ERROR_PROMPT,
    ApplicationError,
    CallbackError,
    CallStateError,
)
from standin.transport import Transport, TransportError
from standin.twiml_check import TwiMLError, check_twiml
from standin.webhook import (
    DEFAULT_ACCOUNT_SID,
    Heard,
    QueueVisit,
    answer_problem,
    ask_app,
    call_params,
    dial_targets,
    heard_from,
    method_of,
    new_sid,
    status_callback_params,
)

__all__ = ["ENDED", "State", "TwimlInterpreter"]

State = Literal[
    "new",  # not started
    "running",  # the interpreter is running verbs (never seen between calls to Call)
    "gathering",  # at a <Gather>: press, speak or stay silent
    "recording",  # at a <Record>
    "dialing",  # at a <Dial>: the dialled party's call goes on until dial_result()
    "queued",  # in an <Enqueue> queue, hearing its wait music
    "conference",  # in a <Dial><Conference> room: waiting, talking or held
    "looping",  # chaining documents without caller input, e.g. a hold loop
    "completed",  # ended by the app or the caller
    "rejected",  # ended by <Reject>
]
ENDED: tuple[State, ...] = ("completed", "rejected")


class TwimlInterpreter:
    """Run the app's TwiML for one inbound call as Twilio would."""

    def __init__(
        self,
        transport: Transport,
        *,
        from_: str = "+8613800138000",
        to: str = "+864001234567",
        account_sid: str = DEFAULT_ACCOUNT_SID,
        call_sid: str | None = None,
        voice_url: str = "/voice/incoming",
        voice_method: str = "POST",
        status_callback: str | None = "/voice/status",
        extra_params: dict[str, str] | None = None,
        max_redirects: int = 20,
    ) -> None:
        """Set up the call; nothing is requested until ``start()``."""
        self.transport = transport
        self.from_, self.to = from_, to
        self.account_sid = account_sid
        self.call_sid = call_sid or new_sid("CA")
        self.voice_url, self.voice_method = voice_url, voice_method
        self.status_callback = status_callback
        self.extra_params = dict(extra_params or {})
        self.max_redirects = max_redirects

        self.state: State = "new"
        self.heard: list[Heard] = []
        self.dialed: list[dict[str, Any]] = []
        self.agent_heard: list[Heard] = []  # what called parties heard (their whisper documents)
        self.whisper_hung_up = False
        self.enqueued: list[str] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.current_url: str | None = None
        self.last_twiml: ET.Element | None = None

        self._verbs: list[ET.Element] = []  # the document being run ...
        self._index = 0  # ... and the next verb in it
        self._waiting: ET.Element | None = None  # the verb the call is stopped at
        self._budget = max_redirects  # documents left to fetch before the caller acts
        self._pending: tuple[str, str, bool] | None = None  # (url, method, is waitUrl)
        self._endless: ET.Element | None = None  # a loop="0" Say/Play playing forever
        self._queue: QueueVisit | None = None
        self._started_at = 0.0
        self._dial_started_at = 0.0
        self._status_sent = False
        # The rooms a <Dial><Conference> joins: the switchboard's, once registered with one.
        self.conferences: Conferences | None = None
        self.conference: Conference | None = None  # the room the call is in

    def _ticks(self) -> float:
        """Seconds on the call's clock, for durations (a live call scales them to simulated time)."""
        return time.monotonic()

    def _run(self) -> None:
        """Run verbs while the call is running: each handler may stop or end it.

        Stopped, the call is at a safe point: what its rooms have to tell the app goes now.
        """
        while self.state == "running":
            if self._index >= len(self._verbs):
                self._end_of_document()
                continue
            verb = self._verbs[self._index]
            self._index += 1
            getattr(self, f"_verb_{verb.tag.lower()}")(verb)
        self._deliver_room_events()

    def _deliver_room_events(self) -> None:
        if self.conferences is not None and self.conferences.pending:
            problems = self.conferences.deliver()
            if problems:
                raise CallbackError("; ".join(problems))

    def _end_of_document(self) -> None:
        if self._queue is not None and self._queue.wait_url is not None:
            # Twilio requests the waitUrl again each time its document ends.
            self._follow(self._queue.wait_url, self._queue.wait_method, is_wait_url=True)
        elif self._queue is not None:
            self.state = "queued"
        else:
            self._end_and_report("completed", [])

    def _verb_say(self, verb: ET.Element) -> None:
        self._play(verb)

    def _verb_play(self, verb: ET.Element) -> None:
        self._play(verb)

    def _verb_pause(self, verb: ET.Element) -> None:
        self.heard.extend(heard_from(verb))

    def _play(self, verb: ET.Element) -> None:
        """Hear a Say or Play; with loop="0" it repeats until something else happens."""
        self.heard.extend(heard_from(verb))
        if verb.get("loop") == "0":
            self._endless = verb
            self.state = "queued" if self._queue is not None else "looping"

    def _verb_gather(self, verb: ET.Element) -> None:
        if self._queue is not None:
            raise NotImplementedError("a <Gather> in a waitUrl document is not modelled yet")
        for prompt in verb:
            self.heard.extend(heard_from(prompt))
        self._stop_at(verb, "gathering")

    def _verb_record(self, verb: ET.Element) -> None:
        self._stop_at(verb, "recording")

    def _verb_dial(self, verb: ET.Element) -> None:
        targets = dial_targets(verb)
        self.dialed.extend(targets)
        self._dial_started_at = self._ticks()
        if targets[0]["kind"] == "conference":
            self._join_conference(verb, verb[0])
            return
        self._stop_at(verb, "dialing")

    def _join_conference(self, dial: ET.Element, noun: ET.Element) -> None:
        """Join the named room; the call stays there until it leaves or the room lets it go."""
        if self.conferences is None:
            self.conferences = Conferences(self.transport)
        here = self._document_url()
        callback = noun.get("statusCallback")
        settings = RoomSettings(
            status_callback=urljoin(here, callback) if callback else None,
            status_callback_method=noun.get("statusCallbackMethod", "POST"),
            status_callback_events=frozenset(noun.get("statusCallbackEvent", "").split()),
            record=noun.get("record") == "record-from-start",
            recording_status_callback=urljoin(here, recorded)
            if (recorded := noun.get("recordingStatusCallback"))
            else None,
            recording_status_callback_method=noun.get("recordingStatusCallbackMethod", "POST"),
            recording_status_callback_events=frozenset(
                noun.get("recordingStatusCallbackEvent", "completed").split()
            ),
        )
        room = self.conferences.open((noun.text or "").strip(), self.account_sid, settings, self.transport)
        wait_url = noun.get("waitUrl")
        coach = noun.get("coach")
        participant = Participant(
            call_sid=self.call_sid,
            account_sid=self.account_sid,
            conference_sid=room.sid,
            label=noun.get("participantLabel"),
            muted=noun.get("muted") == "true",
            coaching=coach is not None,
            call_sid_to_coach=coach,
            start_conference_on_enter=noun.get("startConferenceOnEnter", "true") == "true",
            end_conference_on_exit=noun.get("endConferenceOnExit") == "true",
            wait_url=urljoin(here, wait_url) if wait_url else wait_url,
            wait_method=noun.get("waitMethod", "POST"),
            call=self,
        )
        self.conference = room
        self._stop_at(dial, "conference")
        self.conferences.join(room, participant)

    def conference_params(self) -> dict[str, str]:
        """What Twilio sends with a room's request about this call (its music)."""
        return self._params(None)

    def leave_conference(self) -> None:
        """The room let the call go: its Dial's action, or the verb after the Dial."""
        if self.state != "conference" or self._waiting is None:
            return
        dial, self.conference = self._waiting, None
        action = dial.get("action")
        if action:
            self._continue_at(action, method_of(dial), {})
        else:
            self._proceed()

    def _verb_enqueue(self, verb: ET.Element) -> None:
        name = (verb.text or "").strip()
        self.enqueued.append(name)
        wait_url = verb.get("waitUrl")
        self._queue = QueueVisit(
            enqueue=verb,
            name=name,
            resume_verbs=self._verbs,
            resume_index=self._index,
            resume_url=self._document_url(),
            wait_url=urljoin(self._document_url(), wait_url) if wait_url else None,
            wait_method=verb.get("waitUrlMethod", "POST"),
        )
        self._waiting = verb
        if self._queue.wait_url is None:
            self.state = "queued"  # Twilio plays its default hold music, forever
        else:
            self._follow(self._queue.wait_url, self._queue.wait_method, is_wait_url=True)

    def _verb_leave(self, verb: ET.Element) -> None:
        if self._queue is not None:  # outside a queue there is nothing to leave
            self._leave_queue("leave")

    def _verb_redirect(self, verb: ET.Element) -> None:
        self._follow((verb.text or "").strip(), method_of(verb), is_wait_url=False)

    def _verb_hangup(self, verb: ET.Element) -> None:
        self._end_and_report("completed", [])

    def _verb_reject(self, verb: ET.Element) -> None:
        # Only a Reject that is the very first verb leaves the call unanswered.
        first = len(self.requests) == 1 and self._index == 1
        reason = verb.get("reason", "rejected")
        final = ("busy" if reason == "busy" else "no-answer") if first else "completed"
        self._end_and_report("rejected", [], call_status=final)

    # -- moving between documents ------------------------------------------------------------

    def _stop_at(self, verb: ET.Element, state: State) -> None:
        self._waiting = verb
        self.state = state

    def _proceed(self) -> None:
        """The verb the call was stopped at is done: go on with the next one."""
        self._budget = self.max_redirects
        self._waiting = None
        self.state = "running"
        self._run()

    def _continue_at(self, url: str, method: str, params: dict[str, str]) -> None:
        """The verb the call was stopped at is done and its action gets the result."""
        self._budget = self.max_redirects
        self._waiting = None
        self.state = "running"
        self._fetch(url, method, params)
        self._run()

    def _leave_queue(self, result: str) -> None:
        """Leave the queue: request the Enqueue action, or go on after the Enqueue."""
        queue = self._queue
        assert queue is not None
        self._queue, self._waiting, self._endless, self._pending = None, None, None, None
        self._verbs, self._index = queue.resume_verbs, queue.resume_index
        self.current_url = queue.resume_url
        action = queue.enqueue.get("action")
        if action:
            params = {"QueueResult": result, **queue.leave_params()}
            self._fetch(action, method_of(queue.enqueue), params)

    def _follow(self, url: str, method: str, *, is_wait_url: bool) -> None:
        """Fetch a document the app chained to without caller input, within the budget."""
        if self._budget <= 0:
            self._pending = (url, method, is_wait_url)
            self.state = "queued" if self._queue is not None else "looping"
            return
        self._budget -= 1
        extra = self._queue.wait_params() if is_wait_url and self._queue else None
        self._fetch(url, method, extra, wait_document=self._queue is not None)

    def _fetch(
        self,
        url: str,
        method: str,
        extra: dict[str, str] | None = None,
        *,
        wait_document: bool = False,
    ) -> None:
        """Request a TwiML document and make it the one being run."""
        absolute = urljoin(self._document_url(), url.strip())
        params = self._params(extra)
        self.requests.append((absolute, params))
        try:
            answer = self.transport.request(method, absolute, params)
        except TransportError as exc:  # raised from here: the failure keeps its cause (terminal.py)
            self._fail(f"{method} {absolute}: the app could not be reached: {exc}")
        problem = answer_problem(answer, twiml=True)
        if problem:
            self._fail(f"{method} {absolute}: {problem}")
        try:
            root = check_twiml(answer.body, wait_document=wait_document)
        except TwiMLError as exc:
            self._fail(f"{method} {absolute}: invalid TwiML: {exc}\n{answer.body[:2000]}")
        self.current_url, self.last_twiml = absolute, root
        self._verbs, self._index, self._endless = list(root), 0, None

    def _notify(self, url: str, method: str, params: dict[str, str]) -> str | None:
        """Send a request whose answer Twilio does not run; return what went wrong, if any."""
        absolute = urljoin(self._document_url(), url.strip())
        sent = self._params(params)
        self.requests.append((absolute, sent))
        return ask_app(self.transport, method, absolute, sent, twiml=False)[1]

    def _end_and_report(
        self, state: State, problems: list[str | None], *, call_status: str = "completed"
    ) -> None:
        """End the call, send the status callback once, and raise if a callback failed."""
        self.state = state
        self._waiting = self._queue = self._pending = self._endless = None
        if self.status_callback and not self._status_sent:
            self._status_sent = True
            answered = call_status == "completed"
            seconds = int(self._ticks() - self._started_at) if answered else 0
            params = status_callback_params(call_status, seconds)
            problems.append(self._notify(self.status_callback, "POST", params))
        failures = [problem for problem in problems if problem]
        if failures:
            raise CallbackError("; ".join(failures))

    def _fail(self, message: str) -> NoReturn:
        """The app's answer cannot be run: Twilio apologises and hangs up."""
        self.heard.append(Heard("say", APPLICATION_ERROR_PROMPT, "en-US", "woman"))
        try:
            self._end_and_report("completed", [])
        except CallbackError as exc:
            message += f"\n(and then: {exc})"
        raise ApplicationError(message)

    def _expect(self, state: State) -> ET.Element:
        """Return the verb the call waits at, if the call is in ``state``."""
        if self.state != state or self._waiting is None:
            raise CallStateError(f"the call is {self.state}, not {state}")
        return self._waiting

    def _action(self, verb: ET.Element) -> str:
        """A Gather's or Record's action URL: by default, the document it came in."""
        return verb.get("action") or self._document_url()

    def _document_url(self) -> str:
        return self.current_url or self.transport.base_url

    def _params(self, extra: dict[str, str] | None) -> dict[str, str]:
        """The parameters Twilio sends with every request about this call, plus ``extra``."""
        if not self.requests:
            status = "ringing"
        else:
            status = "completed" if self.state in ENDED else "in-progress"
        params = call_params(
            account_sid=self.account_sid,
            call_sid=self.call_sid,
            call_status=status,
            from_=self.from_,
            to=self.to,
        )
        return params | self.extra_params | (extra or {})
