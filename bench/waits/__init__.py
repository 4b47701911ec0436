"""The wait-estimate benchmark: a discrete-event hotline that asks the product's estimator.

`python -m bench.waits` simulates the scenarios of the wait-estimate issue, calls
`ivr.waits.estimate.estimate` at every announcement instant with the `QueueState` the hotline
itself would see, and scores it and the usual history-based predictors against the best any
prediction can do: the conditional variance of the wait given the state.
"""
