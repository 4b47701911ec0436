"""Sums of (x + i)^-p over a block of i in closed form: what the wait's stages add up to.

A wait behind n callers is a sum over n + 1 stages whose rates grow by the same step (one more
caller who may hang up), so its mean and variance are sums of 1/(x + i)^p. Summed one by one they
cost a loop over every caller ahead; here they cost O(1): the difference of two values of the
digamma function (p = 1) or of the Hurwitz zeta function (p >= 2), each from its standard
asymptotic series after at most `_SHIFT_TO` steps of the recurrence. Both values are differenced
term by term (log1p, expm1), so a short block far out (x = 1e12, three terms) loses no digits to
cancellation.

Why not scipy: the product needs these few lines only, and scipy.special.zeta would still need the
same care for the differences.
"""

from __future__ import annotations

import math

# Bernoulli numbers B_2, B_4, ..., B_20 for the asymptotic series.
_BERNOULLI = (
    1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510, 43867 / 798, -174611 / 330,
)  # fmt: skip
# Below this many terms a block is summed directly (exact and cheap).
_DIRECT = 24
# The recurrence moves x up to here before the asymptotic series (error below 1e-18 relative).
_SHIFT_TO = 20.0


def _series_difference(p: int, x: float, count: float) -> float:
    """F(x) - F(x + count) by the asymptotic series, x >= _SHIFT_TO: the block's sum.

    F is the Hurwitz zeta function zeta(p, x) for p >= 2 and minus the digamma function for p = 1;
    either way F(x) - F(x + 1) = x^-p.
    """
    span = math.log1p(count / x)  # log((x + count) / x), exact for tiny ratios

    def drop(power: float) -> float:
        """x^-power - (x + count)^-power, without cancellation."""
        return x**-power * -math.expm1(-power * span)

    total = span if p == 1 else drop(p - 1) / (p - 1)
    total += drop(p) / 2
    rising = float(p)  # p (p + 1) ... (p + 2j - 2)
    factorial = 2.0  # (2j)!
    for j, bernoulli in enumerate(_BERNOULLI, start=1):
        if j > 1:
            rising *= (p + 2 * j - 3) * (p + 2 * j - 2)
            factorial *= (2 * j - 1) * (2 * j)
        term = bernoulli / factorial * rising * drop(p + 2 * j - 1)
        total += term
        if abs(term) <= 1e-17 * abs(total):  # the series' terms fall fast from x >= _SHIFT_TO on
            break
    return total


def block_sum(p: int, x: float, count: float) -> float:
    """Sum over i = 0 .. count-1 of (x + i)^-p, for x > 0, p >= 1 and a whole count >= 0.

    At most `_DIRECT` + `_SHIFT_TO` + 10 terms of work whatever the count.
    """
    if not (x > 0 and p >= 1):
        raise ValueError(f"block_sum needs x > 0 and p >= 1, not x={x!r}, p={p!r}")
    if count <= 0:
        return 0.0
    if count <= _DIRECT:
        return sum((x + i) ** -p for i in range(int(count)))
    total = 0.0
    while x < _SHIFT_TO and count > 0:
        total += x**-p
        x += 1.0
        count -= 1
    if count <= 0:
        return total
    return total + _series_difference(p, x, count)
