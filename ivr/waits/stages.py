"""The stages of a wait at one staffing level, and their sums over any block of callers in O(1).

With k callers ahead, agents finishing at total rate r, waiting callers hanging up at rate theta
each and higher-class callers arriving at rate lam, the queue in front drops a level after a
stage of mean m_k and variance v_k (a birth-death first passage, exact for exponential times):
    m_k d_k = 1 + lam m_{k+1},   v_k d_k = m_k + lam v_{k+1} + lam m_{k+1} (m_{k+1} + m_k),
with d_k = r + k theta, and its third cumulant c_k (the skew of the wait's law, for its range):
    c_k d_k = 2 m_k^2 + lam (c_{k+1} + 3 v_{k+1} (m_{k+1} + m_k) + m_{k+1}^3
                             + 3 m_{k+1}^2 m_k + 2 m_k^2 m_{k+1}).
A wait is a sum of such stages, so a caller far back needs the sums of m_k, v_k and c_k over a
block of k; summing them one by one costs a loop over the callers ahead.

In closed form instead:
- lam = 0: m_k = 1/d_k, v_k = 1/d_k^2 and c_k = 2/d_k^3; their sums are digamma and Hurwitz
  zeta differences.
- theta = 0: every stage is the same M/M/1 busy period, mean 1/u, variance (r + lam)/u^3,
  third cumulant 2/u^3 + 6 lam (r + lam)/u^5 + 6 lam/u^4, u = r - lam (never over when u <= 0).
- both: in units of 1/theta, with x_k = (r - lam)/theta + k and z = lam/theta, m, v and c are
  expanded in powers of 1/x_k (the busy period is the first term; each further order is smaller by
  about z/x^2 and 1/x), so their sums are Hurwitz zeta differences (`polygamma.block_sum`). The
  expansion is used where x_k >= `SERIES_FROM`; below, at most `MAX_EXACT` stages are solved
  exactly by the recursion above, started from the expansion (downwards, its stable direction).
  Where even that does not reach (higher classes outrun the agents for thousands of levels) the
  model cannot back a figure: `CannotReckon`.
"""

from __future__ import annotations

import math
from itertools import accumulate

from ivr.waits.polygamma import block_sum

# Orders of the expansion in 1/x, and where it starts: its relative error is then below 1e-15.
ORDERS = 10
SERIES_FROM = 40.0
# The expansion's terms of the third cumulant kept, relative to its leading power (`_in_z`).
THIRD_TOLERANCE = 1e-9
# Stages solved exactly below the expansion, at most (the work of one staffing level).
MAX_EXACT = 1_000

# A sum of c z^a x^-p, keyed by (p, a): the expansion's terms, symbolic in z = lam/theta.
Laurent = dict[tuple[int, int], float]


class CannotReckon(Exception):
    """The stage moments the wait needs are beyond what the model can compute soundly."""


def _derivative(f: Laurent, times: int) -> Laurent:
    """The `times`-th derivative in x of a sum of c z^a x^-p."""
    out: Laurent = {}
    for (p, a), c in f.items():
        factor = 1.0
        for i in range(times):
            factor *= -(p + i)
        key = (p + times, a)
        out[key] = out.get(key, 0.0) + c * factor
    return out


def _add(into: Laurent, f: Laurent, scale: float = 1.0, z_power: int = 0) -> None:
    for (p, a), c in f.items():
        key = (p, a + z_power)
        into[key] = into.get(key, 0.0) + scale * c


def _times(f: Laurent, g: Laurent) -> Laurent:
    out: Laurent = {}
    for (p, a), c in f.items():
        for (q, b), e in g.items():
            key = (p + q, a + b)
            out[key] = out.get(key, 0.0) + c * e
    return out


def _over_x(f: Laurent) -> Laurent:
    return {(p + 1, a): c for (p, a), c in f.items()}


def _shift(f: list[Laurent], j: int) -> Laurent:
    """Order j of f(x + 1), f given by order: sum over i of f_{j-i}^(i) / i! (Taylor's formula)."""
    s: Laurent = {}
    for i in range(j + 1):
        _add(s, _derivative(f[j - i], i), 1 / math.factorial(i))
    return s


def _product(*factors: list[Laurent], j: int) -> Laurent:
    """Order j of the product of series given by order (the orders of the factors add up)."""
    if len(factors) == 1:
        return dict(factors[0][j])
    out: Laurent = {}
    for a in range(j + 1):
        _add(out, _times(factors[0][a], _product(*factors[1:], j=j - a)))
    return out


def _expansion() -> tuple[Laurent, Laurent, Laurent]:
    """m, v and c of a stage (theta = 1, lam = z) as sums of c z^a x^-p, x = d - z: orders 0..ORDERS.

    From the recursions with m_{k+1} = m(x + 1) expanded by Taylor's formula: order j of
    m x = [j = 0] + z * sum_{i=1..j} m_{j-i}^(i) / i!, and alike for v and c with their own
    right sides. Computed once, symbolically in z; `_in_z` evaluates it for one z.
    """
    m: list[Laurent] = [{(1, 0): 1.0}]
    for j in range(1, ORDERS + 1):
        rhs: Laurent = {}
        for i in range(1, j + 1):
            _add(rhs, _derivative(m[j - i], i), 1 / math.factorial(i), z_power=1)
        m.append(_over_x(rhs))
    shifted: list[Laurent] = []  # m(x + 1) by order
    for j in range(ORDERS + 1):
        s: Laurent = {}
        for i in range(j + 1):
            _add(s, _derivative(m[j - i], i), 1 / math.factorial(i))
        shifted.append(s)
    v: list[Laurent] = []
    for j in range(ORDERS + 1):
        rhs = dict(m[j])
        for a in range(j + 1):
            both = dict(shifted[j - a])
            _add(both, m[j - a])
            _add(rhs, _times(shifted[a], both), z_power=1)
        for i in range(1, j + 1):
            _add(rhs, _derivative(v[j - i], i), 1 / math.factorial(i), z_power=1)
        v.append(_over_x(rhs))
    # c x = 2 m^2 + z (c' - c) + z (3 v' (m' + m) + m'^3 + 3 m'^2 m + 2 m^2 m'), ' = at x + 1.
    v_up = [_shift(v, j) for j in range(ORDERS + 1)]
    both_m = []
    for j in range(ORDERS + 1):
        one = dict(shifted[j])
        _add(one, m[j])
        both_m.append(one)
    c: list[Laurent] = []
    for j in range(ORDERS + 1):
        rhs = _product(m, m, j=j)
        _add(rhs, rhs)  # 2 m^2
        _add(rhs, _product(v_up, both_m, j=j), 3.0, z_power=1)
        _add(rhs, _product(shifted, shifted, shifted, j=j), 1.0, z_power=1)
        _add(rhs, _product(shifted, shifted, m, j=j), 3.0, z_power=1)
        _add(rhs, _product(m, m, shifted, j=j), 2.0, z_power=1)
        for i in range(1, j + 1):
            _add(rhs, _derivative(c[j - i], i), 1 / math.factorial(i), z_power=1)
        c.append(_over_x(rhs))
    mean: Laurent = {}
    var: Laurent = {}
    third: Laurent = {}
    for order in m:
        _add(mean, order)
    for order in v:
        _add(var, order)
    for order in c:
        _add(third, order)
    return mean, var, third


def _by_power(f: Laurent) -> tuple[tuple[int, tuple[float, ...]], ...]:
    """The expansion as (p, coefficients of z^0, z^1, ...) per power of x, for Horner's rule."""
    powers: dict[int, list[float]] = {}
    for (p, a), c in f.items():
        row = powers.setdefault(p, [])
        row.extend([0.0] * (a + 1 - len(row)))
        row[a] += c
    return tuple((p, tuple(row)) for p, row in sorted(powers.items()))


_MEAN, _VAR, _THIRD = (_by_power(f) for f in _expansion())


def _in_z(
    f: tuple[tuple[int, tuple[float, ...]], ...], z: float, lead: int, tolerance: float = 1e-18
) -> dict[int, float]:
    """The expansion for one z: power p -> coefficient of x^-p.

    Terms below `tolerance` of the leading x^-lead wherever the expansion is used are left out
    (with little overtaking, all but the first few): they cost a closed-form sum each and change
    nothing.
    """
    out: dict[int, float] = {}
    for p, row in f:
        total = 0.0
        for c in reversed(row):
            total = total * z + c
        out[p] = total
    x = SERIES_FROM * max(1.0, math.sqrt(z))
    return {p: c for p, c in out.items() if p <= lead or abs(c) * x ** (lead - p) >= tolerance}


def _at(f: dict[int, float], x: float) -> float:
    return sum(c * x**-p for p, c in f.items())


class Stages:
    """The stages of one staffing level: rate r of the agents, theta, lam (per second).

    `stage(k)` is (mean, variance) of stage k; `block(lo, hi)` their sums over k = lo..hi. Both
    cost O(1) in k (the first call below the expansion solves at most MAX_EXACT stages once).
    """

    def __init__(self, rate: float, theta: float, lam: float) -> None:
        self.rate, self.theta, self.lam = rate, theta, lam
        self.never = theta == 0 and lam > 0 and rate <= lam  # higher classes outrun the agents
        if lam > 0 and theta > 0:
            z = lam / theta
            self.x0 = (rate - lam) / theta
            self.series_from = max(0, math.ceil(max(SERIES_FROM, SERIES_FROM * math.sqrt(z)) - self.x0))
            self.mean_poly, self.var_poly = _in_z(_MEAN, z, 1), _in_z(_VAR, z, 2)
            # The third cumulant shapes the range only: to a part in a billion is plenty.
            self.third_poly = _in_z(_THIRD, z, 3, THIRD_TOLERANCE)
            self._exact_from = max(0, self.series_from - MAX_EXACT)
            self._exact: list[tuple[float, float]] | None = None
            self._prefix: list[tuple[float, float]] = []
            self._thirds: list[float] = []  # c of the exact stages, and their prefix sums
            self._third_prefix: list[float] = []

    # -- one stage ------------------------------------------------------------------------------

    def stage(self, k: int) -> tuple[float, float]:
        """Mean and variance of stage k (k callers in front of the one leaving next)."""
        r, theta, lam = self.rate, self.theta, self.lam
        if lam == 0:
            d = r + k * theta
            return 1 / d, 1 / d**2
        if theta == 0:
            if self.never:
                return math.inf, math.inf
            u = r - lam
            return 1 / u, (r + lam) / u**3
        if k >= self.series_from:
            return self._series_stage(k)
        exact = self._exact_stages()
        if k < self._exact_from:
            raise CannotReckon(f"stage {k} is below the {MAX_EXACT} stages solved exactly")
        return exact[k - self._exact_from]

    def _series_stage(self, k: int) -> tuple[float, float]:
        x = self.x0 + k
        return _at(self.mean_poly, x) / self.theta, _at(self.var_poly, x) / self.theta**2

    def third(self, k: int) -> float:
        """The third cumulant of stage k (seconds cubed): how far its law leans to long waits."""
        r, theta, lam = self.rate, self.theta, self.lam
        if lam == 0:
            return 2 / (r + k * theta) ** 3
        if theta == 0:
            return self._busy_third()
        if k >= self.series_from:
            return _at(self.third_poly, self.x0 + k) / theta**3
        self._exact_stages()
        if k < self._exact_from:
            raise CannotReckon(f"stage {k} is below the {MAX_EXACT} stages solved exactly")
        return self._thirds[k - self._exact_from]

    def _busy_third(self) -> float:
        """The third cumulant of an M/M/1 busy period (theta = 0): the same for every stage."""
        if self.never:
            return math.inf
        r, lam = self.rate, self.lam
        u = r - lam
        return 2 / u**3 + 6 * lam * (r + lam) / u**5 + 6 * lam / u**4

    def _exact_stages(self) -> list[tuple[float, float]]:
        """Stages _exact_from .. series_from - 1 by the recursion, from the expansion's value above."""
        if self._exact is None:
            r, theta, lam = self.rate, self.theta, self.lam
            m_up, v_up = self._series_stage(self.series_from)
            c_up = _at(self.third_poly, self.x0 + self.series_from) / theta**3
            q_up = v_up + m_up * m_up
            out: list[tuple[float, float]] = []
            thirds: list[float] = []
            for k in range(self.series_from - 1, self._exact_from - 1, -1):
                d = r + k * theta
                m = (1 + lam * m_up) / d
                q = (2 * m + lam * (q_up + 2 * m_up * m)) / d
                v = max(q - m * m, 0.0)
                both = m_up + m  # m'^3 + 3 m'^2 m + 2 m^2 m' = m' (m' + m) (m' + 2 m)
                c = (2 * m * m + lam * (c_up + both * (3 * v_up + m_up * (both + m)))) / d
                out.append((m, v))
                thirds.append(c)
                m_up, q_up, v_up, c_up = m, q, v, c
            out.reverse()
            thirds.reverse()
            self._exact = out
            self._thirds = thirds
            self._third_prefix = [0.0, *accumulate(thirds)]
            total_m = total_v = 0.0
            self._prefix = [(0.0, 0.0)]
            for m, v in out:
                total_m += m
                total_v += v
                self._prefix.append((total_m, total_v))
        return self._exact

    # -- a block of stages ---------------------------------------------------------------------

    def block_third(self, lo: int, hi: int) -> float:
        """Sum of the third cumulants of stages lo..hi (0 when hi < lo), in O(1) as `block`."""
        if hi < lo:
            return 0.0
        count = hi - lo + 1
        r, theta, lam = self.rate, self.theta, self.lam
        if lam == 0:
            if theta == 0:
                return 2 * count / r**3
            return 2 * block_sum(3, r / theta + lo, count) / theta**3
        if theta == 0:
            return count * self._busy_third()
        total = 0.0
        split = max(lo, self.series_from)
        if split <= hi:
            x, n = self.x0 + split, hi - split + 1
            total += sum(c * block_sum(p, x, n) for p, c in self.third_poly.items()) / theta**3
        if lo < self.series_from:
            self._exact_stages()
            if lo < self._exact_from:
                raise CannotReckon(f"stage {lo} is below the {MAX_EXACT} stages solved exactly")
            top = min(hi, self.series_from - 1) - self._exact_from + 1
            total += self._third_prefix[top] - self._third_prefix[lo - self._exact_from]
        return total

    def rough_mean(self, lo: int, hi: int) -> float:
        """Sum of the means of stages lo..hi, to a part in a thousand: the expansion's two leading
        powers only where it is used (each further one is smaller by z/x^2 <= 1/1600 there), for
        deciding which stages are clear of a staffing change, not for the wait itself."""
        if hi < lo:
            return 0.0
        if self.lam == 0 or self.theta == 0 or hi < self.series_from:
            return self.block(lo, hi, variance=False)[0]
        split = max(lo, self.series_from)
        x, n = self.x0 + split, hi - split + 1
        lead = sorted(self.mean_poly)[:2]
        total = sum(self.mean_poly[p] * block_sum(p, x, n) for p in lead) / self.theta
        return total + (self.block(lo, split - 1, variance=False)[0] if lo < split else 0.0)

    def block(self, lo: int, hi: int, variance: bool = True) -> tuple[float, float]:
        """Sum of the means and of the variances of stages lo..hi (0 when hi < lo).

        variance=False: the means only (the variance is returned as 0), for half the work.
        """
        if hi < lo:
            return 0.0, 0.0
        count = hi - lo + 1
        r, theta, lam = self.rate, self.theta, self.lam
        if lam == 0:
            if theta == 0:
                return count / r, count / r**2
            x = r / theta + lo
            return block_sum(1, x, count) / theta, block_sum(2, x, count) / theta**2 if variance else 0.0
        if theta == 0:
            if self.never:
                return math.inf, math.inf
            u = r - lam
            return count / u, count * (r + lam) / u**3
        mean = var = 0.0
        split = max(lo, self.series_from)
        if split <= hi:
            x, n = self.x0 + split, hi - split + 1
            mean += sum(c * block_sum(p, x, n) for p, c in self.mean_poly.items()) / theta
            if variance:
                var += sum(c * block_sum(p, x, n) for p, c in self.var_poly.items()) / theta**2
        if lo < self.series_from:
            self._exact_stages()
            if lo < self._exact_from:
                raise CannotReckon(f"stage {lo} is below the {MAX_EXACT} stages solved exactly")
            top = min(hi, self.series_from - 1) - self._exact_from + 1
            bottom = lo - self._exact_from
            mean += self._prefix[top][0] - self._prefix[bottom][0]
            var += self._prefix[top][1] - self._prefix[bottom][1]
        return mean, var
