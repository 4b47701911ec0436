"""The gamma distribution's CDF and quantiles, for the announced range of a wait.

Why here and not scipy: the hotline does not otherwise need scipy, and the range needs only
two quantiles of one distribution. The regularized lower incomplete gamma function P(a, x) is
computed by its power series below x < a + 1 and by Lentz's continued fraction above (the
classic pairing that converges fast on each side); the quantile inverts it by Newton steps kept
inside a bisection bracket, so it always converges. For very large shapes (a wait behind
thousands of callers) the Wilson-Hilferty cube-root normal approximation is exact to well
under a second of wait and avoids long series.

Every loop has a fixed cap and every input must be finite: a NaN shape once passed `shape <= 0`
and kept the bracket doubling forever, holding a web worker's thread. Non-finite or
non-positive inputs raise ValueError; the work of one quantile is at most
`_MAX_DOUBLINGS + _MAX_NEWTON` evaluations of P(a, x), each at most `_MAX_TERMS` terms.
"""

from __future__ import annotations

import functools
import math
import sys
from statistics import NormalDist

_EPS = 1e-14
_MAX_TERMS = 10_000
_LARGE_SHAPE = 1e5
# The bracket doubles from max(shape, 1): 1100 doublings pass the largest float.
_MAX_DOUBLINGS = 1_100
_MAX_NEWTON = 200
# exp() of more than this overflows; a density that large only steers Newton, so cap it.
_MAX_EXP = 700.0


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, not {value!r}")


def regularized_lower(a: float, x: float, eps: float = _EPS) -> float:
    """P(a, x) = γ(a, x) / Γ(a): the CDF at x of a gamma with shape a and scale 1, to a relative
    `eps` of its series or continued fraction."""
    _positive("shape", a)
    if math.isnan(x):
        raise ValueError("x must be a number, not nan")
    if x <= 0:
        return 0.0
    if math.isinf(x):
        return 1.0
    log_front = min(a * math.log(x) - x - math.lgamma(a), _MAX_EXP)
    if x < a + 1:
        # Series: γ(a,x) e^x x^-a = Σ x^n / (a (a+1) ... (a+n)); every term is positive.
        term = total = 1.0 / a
        denom = a
        for _ in range(_MAX_TERMS):
            denom += 1
            term *= x / denom
            total += term
            if term < total * eps:
                break
        return min(1.0, math.exp(log_front) * total)
    # Continued fraction for Q(a, x) = 1 - P(a, x), modified Lentz.
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, _MAX_TERMS):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < eps:
            break
    return max(0.0, 1.0 - math.exp(log_front) * h)


def cdf(x: float, shape: float, scale: float) -> float:
    """P(X <= x) for a gamma with this shape and scale."""
    return regularized_lower(shape, x / scale)


# From this shape on, `cdf_for_words` takes Wilson-Hilferty's cube-root normal: within 6e-4 of
# the CDF at shape 10, 1e-4 at 50 (a third of the spoken words' 2% steps at most), for a normal
# CDF's cost instead of a series of up to hundreds of terms.
_WORDS_NORMAL_FROM = 10.0
_NORMAL = NormalDist()


def cdf_for_words(x: float, shape: float, scale: float) -> float:
    """`cdf` to the precision choosing spoken words needs (see _WORDS_NORMAL_FROM)."""
    if shape < _WORDS_NORMAL_FROM:  # to 1e-9: the words' 2% steps need no more
        return regularized_lower(shape, x / scale, 1e-9)
    if x <= 0:
        return 0.0
    spread = 1 / (9 * shape)
    return _NORMAL.cdf(((x / (scale * shape)) ** (1 / 3) - 1 + spread) / math.sqrt(spread))


@functools.lru_cache(maxsize=64)
def _normal_quantile(p: float) -> float:
    """The standard normal's quantile (the range asks for the same two again and again)."""
    return NormalDist().inv_cdf(p)


def quantile(p: float, shape: float, scale: float) -> float:
    """The x with P(X <= x) = p (0 < p < 1) for a gamma with this shape and scale."""
    if not 0 < p < 1:  # also refuses nan
        raise ValueError("p must be strictly between 0 and 1")
    _positive("shape", shape)
    _positive("scale", scale)
    z = _normal_quantile(p)
    # Wilson-Hilferty: (X/a)^(1/3) is nearly normal with mean 1 - 1/(9a), variance 1/(9a).
    try:
        guess = shape * (1 - 1 / (9 * shape) + z / (3 * math.sqrt(shape))) ** 3
    except OverflowError:  # a tiny shape: no useful guess, the bracket finds the quantile
        guess = math.nan
    if shape >= _LARGE_SHAPE:
        return min(max(guess, 0.0) * scale, sys.float_info.max)
    # Newton from the guess, kept inside a bracket [low, high]: the guess is close (two or three
    # steps), so the bracket starts open above and only doubles while Newton overshoots it.
    low, high = 0.0, math.inf
    x = guess if math.isfinite(guess) and guess > 0 else max(shape, 1.0)
    log_norm = math.lgamma(shape)
    for _ in range(_MAX_DOUBLINGS + _MAX_NEWTON):
        f = regularized_lower(shape, x) - p
        if abs(f) < 1e-12:
            break
        if f < 0:
            low = x
        else:
            high = x
        if high - low < 1e-12 * max(1.0, high):
            break
        density = math.exp(min((shape - 1) * math.log(x) - x - log_norm, _MAX_EXP)) if x > 0 else 0.0
        step = None
        if density > 0:  # Halley's step: Newton's, corrected by the density's slope (cubic)
            newton = f / density
            bend = 1 - newton * ((shape - 1) / x - 1) / 2
            step = x - newton / bend if bend > 0.5 else x - newton
        if step is not None and low < step < high:
            if abs(step - x) < 1e-9 * x:  # Halley's error is about the cube of this: done
                x = step
                break
            x = step
        elif math.isinf(high):
            if math.isinf(x * 2):
                break
            x *= 2
        else:
            x = (low + high) / 2
    return min(x * scale, sys.float_info.max)
