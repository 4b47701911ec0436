"""The webhook tier under HTTP load: what a hold turn, a menu step and the statistics cost.

`python -m bench.web` (`make webbench`; `ARGS=--quick` for a shorter run) starts an embedded Redis
and, for each data set (100 / 10,000 / 100,000 callers waiting, in one department and spread over
all), the hotline under the Procfile's gunicorn command (2 workers, the Procfile's threads),
filled through the hotline's own code (bench/web/fill.py). Beside them, under the same command:
a Flask app answering a static TwiML document (the floor) and a phone tree in the style of
TwilioDevEd's ivr-phone-tree sample (bench/web/peers.py). Servers and Redis run on one core,
the load generator on the other.

Each row is a closed-loop wrk run (bench/web/load.py says why wrk) of pre-signed requests, in
rounds that interleave every row (the machine is shared: a row's ratio to the floor is taken
within its round, and the table shows the median and the spread of the rounds). CPU a request is
read from /proc (the gunicorn master and workers, and Redis) around each run. Then an open-loop
search for the most callers held at the real cadence (a turn a minute each) with the turn's p99
under 100 ms and no wrong answer.

`python -m bench.web.profile` (bench/web/profile.py) says where one request's CPU goes: the same
data set and requests, called in process without gunicorn, with cProfile's table on request.
"""
