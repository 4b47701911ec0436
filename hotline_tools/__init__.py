"""Tools for running and using the hotline on one machine, with the stand-in for Twilio.

`launcher` (`make run`) starts the whole hotline (embedded Redis, web, worker) and, without a
Twilio account, the stand-in's REST API and live calls; `terminal` (`make call`, with
`livephone` for live calls) is a caller's phone and `console` (`make console`) an agent's. They
use the product (`ivr`) and the simulator (`standin`); neither imports them.
"""
