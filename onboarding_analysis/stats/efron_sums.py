"""The sums of the Efron partial likelihood with exact frequency weights, in two layouts.

:func:`onboarding_analysis.stats.cox_fit.efron_cox` maximises the Efron partial likelihood by
Newton-Raphson; each step needs the log-likelihood, its gradient and the information at the
current coefficients. This module computes them, vectorised, from one of two layouts of the data:

* :class:`EfronRows`: the rows sorted by time, the risk-set sums as reversed cumulative sums (any
  covariates);
* :class:`EfronPatterns`: a table of death times by distinct covariate row (at most
  :data:`MAX_PATTERNS` of them, e.g. group dummies), each step a few small matrix products.

Both give the same figures. A row of weight ``w`` is ``w`` identical users, and a time with ``d``
(summed) deaths gets ``d`` Efron steps, as the replicated rows would. Both layouts also provide
what the proportional-hazards test (``ph_terms``) and the separation check (``extremes``, read by
:func:`onboarding_analysis.stats.cox_checks.monotone_columns`) need. Covariates are centred by
their weighted mean, which changes no estimate, only rounding.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["MAX_PATTERNS", "EfronPatterns", "EfronRows", "find_patterns"]

def _prepare_steps(data, d: np.ndarray) -> None:
    """Store the deaths per death time ``d`` (whole numbers) and the Efron steps they need."""
    data.d = d.astype(float)
    data.deaths = int(d.sum())
    # Efron steps of the times with several deaths (one death needs no steps: c = 0): one
    # entry per step, its time (position in `multi`) and its fraction c = l / d.
    data.multi = np.flatnonzero(d > 1)
    dm = d[data.multi]
    data.step_time = np.repeat(np.arange(data.multi.size), dm)
    starts = np.cumsum(dm) - dm
    data.step_c = (np.arange(int(dm.sum())) - np.repeat(starts, dm)) / np.repeat(dm, dm).astype(float)


def _efron_steps(data, S0: np.ndarray, T0: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per death time, the sums over its Efron steps of ``1/u, c/u, 1/u^2, c/u^2, c^2/u^2, log u``.

    Here ``u = S0 - c T0`` and ``c = l/d`` for the steps ``l = 0 .. d-1`` (one death: one step,
    c = 0).
    """
    H1 = 1.0 / S0
    H2 = H1 * H1
    LG = np.log(S0)
    C1, C2, CC2 = np.zeros_like(S0), np.zeros_like(S0), np.zeros_like(S0)
    if data.multi.size:
        m, st, c = data.multi, data.step_time, data.step_c
        u = S0[m][st] - c * T0[m][st]
        inv = 1.0 / u
        inv2 = inv * inv
        size = m.size
        H1[m] = np.bincount(st, weights=inv, minlength=size)
        C1[m] = np.bincount(st, weights=c * inv, minlength=size)
        H2[m] = np.bincount(st, weights=inv2, minlength=size)
        C2[m] = np.bincount(st, weights=c * inv2, minlength=size)
        CC2[m] = np.bincount(st, weights=c * c * inv2, minlength=size)
        LG[m] = np.bincount(st, weights=np.log(u), minlength=size)
    return H1, C1, H2, C2, CC2, LG


def _information(P, a, S1, T1, H2, C2, CC2) -> np.ndarray:
    """``sum_i a_i p_i p_i' - sum_t [H2 S1 S1' - C2 (S1 T1' + T1 S1') + CC2 T1 T1']``."""
    info = (P.T * a) @ P
    info -= (S1.T * H2) @ S1
    cross = (S1.T * C2) @ T1
    info += cross + cross.T
    info -= (T1.T * CC2) @ T1
    return info


class EfronRows:
    """Rows sorted by time with the per-time sums the Efron partial likelihood needs.

    Frequency weights are exact: a row of weight ``w`` is ``w`` identical users, and a time with
    ``d`` (summed) deaths gets ``d`` Efron steps, as the replicated rows would (lifelines counts
    rows instead, see the module docstring). The Efron sums over the steps ``l = 0 .. d - 1`` of
    ``1/u_l``, ``c_l/u_l``, ``1/u_l^2``, ... with ``u_l = S0 - c_l T0``, ``c_l = l/d`` run over one
    array of all ``D`` steps (``D`` the summed deaths), so every iteration costs ``O(n p^2 + D)``
    numpy work and no Python loop over rows or times.

    Parameters
    ----------
    t, e, X, w : numpy.ndarray
        Durations, event flags, covariates (rows x columns) and frequency weights, checked.
    """

    def __init__(self, t, e, X, w):
        order = np.argsort(t, kind="stable")  # rows by time: the sums per time are contiguous
        t, e, X, w = t[order], e[order], X[order], w[order]
        new_time = np.concatenate([[True], t[1:] != t[:-1]]) if t.size else np.zeros(0, dtype=bool)
        self.time_start = np.flatnonzero(new_time)
        self.times = t[self.time_start]
        self.index = np.cumsum(new_time) - 1
        K = self.times.size
        self.X = X - np.average(X, axis=0, weights=w)  # centring changes no estimate, only rounding
        self.w, self.e = w, e
        self.dw = np.bincount(self.index, weights=w * e, minlength=K)  # deaths per time
        dead_times = np.flatnonzero(self.dw > 0)
        self.dead_times = dead_times
        _prepare_steps(self, np.round(self.dw[dead_times]).astype(np.int64))
        # Rows with an event, and the position of their time in dead_times.
        self.dead_rows = np.flatnonzero(e)
        position = np.full(K, -1)
        position[dead_times] = np.arange(dead_times.size)
        self.dead_pos = position[self.index[self.dead_rows]]
        self.one_row_per_death_time = self.dead_rows.size == dead_times.size
        self.xd = (w * e) @ self.X  # summed covariates of the deaths
        self.users, self.rows = float(w.sum()), t.size
        self.scale = np.sqrt(np.average(self.X**2, axis=0, weights=w))

    def _sums(self, beta):
        """``(eta, phi, H1, C1, H2, C2, CC2, LG, S1, T1, T0, S0)`` at ``beta``."""
        eta = self.X @ beta
        shift = eta.max() if eta.size else 0.0
        phi = self.w * np.exp(eta - shift)
        p = self.X.shape[1]
        # Sums of phi and phi x over the risk set of each death time: the rows are sorted by
        # time, so a reversed cumulative sum read at the first row of the time gives them.
        # (One row per quantity, so that every pass runs along contiguous memory.)
        parts = np.empty((p + 1, phi.size))
        parts[0] = phi
        np.multiply(phi, self.X.T, out=parts[1:])
        later = np.cumsum(parts[:, ::-1], axis=1)[:, ::-1]
        at_risk = later[:, self.time_start[self.dead_times]]
        S0, S1 = at_risk[0], at_risk[1:].T
        # The same sums over the deaths of each time.
        rows = self.dead_rows
        if self.one_row_per_death_time:
            T0, T1 = parts[0, rows], parts[1:, rows].T
        else:
            J = self.dead_times.size
            T0 = np.bincount(self.dead_pos, weights=parts[0, rows], minlength=J)
            T1 = np.column_stack(
                [np.bincount(self.dead_pos, weights=parts[k, rows], minlength=J) for k in range(1, p + 1)]
            )
        H1, C1, H2, C2, CC2, LG = _efron_steps(self, S0, T0)
        return eta, phi, shift, H1, C1, H2, C2, CC2, LG, S1, T1

    def evaluate(self, beta):
        """Efron log-likelihood, gradient and information (minus the Hessian) at ``beta``.

        Parameters
        ----------
        beta : numpy.ndarray
            Coefficients (one per covariate column).

        Returns
        -------
        loglik : float
            The partial log-likelihood.
        gradient : numpy.ndarray
            Its gradient.
        information : numpy.ndarray
            Minus its Hessian.
        """
        eta, phi, shift, H1, C1, H2, C2, CC2, LG, S1, T1 = self._sums(beta)
        e = self.e
        loglik = float((self.w * e) @ (eta - shift) - LG.sum())
        gradient = self.xd - (S1 * H1[:, None] - T1 * C1[:, None]).sum(axis=0)
        # sum_t H1_t * S2_t = sum_i phi_i x_i x_i' * (H1 summed over death times <= t_i).
        K = self.times.size
        h_all = np.zeros(K)
        h_all[self.dead_times] = H1
        coef = phi * np.cumsum(h_all)[self.index]
        coef[self.dead_rows] -= phi[self.dead_rows] * C1[self.dead_pos]
        return loglik, gradient, _information(self.X, coef, S1, T1, H2, C2, CC2)

    def ph_terms(self, beta):
        """Per death row: Schoenfeld residual (centred scale), weight, Kaplan-Meier transform.

        Parameters
        ----------
        beta : numpy.ndarray
            The estimate whose proportional-hazards assumption is tested.

        Returns
        -------
        residuals : numpy.ndarray
            Schoenfeld residuals (centred covariate scale), one row per entry.
        weights : numpy.ndarray
            The death weight of each entry.
        transform : numpy.ndarray
            One minus the Kaplan-Meier survival just after the entry's time.
        """
        means = self._efron_means(beta)
        rows = self.dead_rows
        residuals = self.X[rows] - means[self.dead_pos]
        at_risk = np.cumsum(np.bincount(self.index, weights=self.w, minlength=self.times.size)[::-1])[::-1]
        survival = np.cumprod(1.0 - self.dw / at_risk)  # the drop at the time included
        return residuals, self.w[rows], 1.0 - survival[self.index[rows]]

    def _efron_means(self, beta):
        """Per death time, the Efron-averaged covariate mean of the risk set (centred scale)."""
        _, _, _, H1, C1, _, _, _, _, S1, T1 = self._sums(beta)
        return (S1 * H1[:, None] - T1 * C1[:, None]) / self.d[:, None]

    def extremes(self):
        """``(dead values, risk-set max, risk-set min, death time)`` for ``monotone_columns``.

        Returns
        -------
        dead : numpy.ndarray
            The covariate values of each death entry.
        risk_max, risk_min : numpy.ndarray
            Per death time, the largest and smallest value of each covariate at risk.
        when : numpy.ndarray
            Per death entry, the position of its death time.
        """
        start = self.time_start[self.dead_times]
        risk_max = np.maximum.accumulate(self.X[::-1], axis=0)[::-1][start]
        risk_min = np.minimum.accumulate(self.X[::-1], axis=0)[::-1][start]
        return self.X[self.dead_rows], risk_max, risk_min, self.dead_pos




#: Up to this many distinct covariate rows (e.g. group dummies) the fit runs on a table of
#: death times by covariate pattern instead of on the rows (:class:`EfronPatterns`).
MAX_PATTERNS = 64


def find_patterns(X: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(codes, first row of each pattern)`` of the distinct rows of ``X``, or None if too many.

    Parameters
    ----------
    X : numpy.ndarray
        Covariates, rows x columns.

    Returns
    -------
    tuple of numpy.ndarray or None
        Per row the number of its pattern, and per pattern its first row; None when ``X`` has
        more than :data:`MAX_PATTERNS` distinct rows.
    """
    codes = np.zeros(X.shape[0], dtype=np.int64)
    for column in X.T:  # combine column by column, renumbering the combinations seen
        values, uniques = pd.factorize(column)
        if len(uniques) > MAX_PATTERNS:
            return None
        codes, seen = pd.factorize(codes * len(uniques) + values)
        if len(seen) > MAX_PATTERNS:
            return None
    codes = np.asarray(codes, dtype=np.int64)
    first = np.full(codes.max() + 1 if codes.size else 0, codes.size)
    np.minimum.at(first, codes, np.arange(codes.size))
    return codes, first


class EfronPatterns:
    """The Efron sums from a table of death times by covariate pattern (few distinct rows).

    With ``K`` distinct covariate rows (group dummies: one per group), the risk set of a death
    time is ``K`` numbers (the weight at risk of each pattern) and its deaths another ``K``;
    built once, each iteration is a few ``(J x K)`` products instead of passes over all rows.
    The sums are the same as :class:`EfronRows`'s, grouped differently.

    Parameters
    ----------
    t, e, X, w : numpy.ndarray
        Durations, event flags, covariates (rows x columns) and frequency weights, checked.
    codes, first : numpy.ndarray
        The patterns of the rows, from :func:`find_patterns`.
    """

    def __init__(self, t, e, X, w, codes, first):
        mean = np.average(X, axis=0, weights=w)
        self.P = X[first] - mean  # the patterns, centred
        K = first.size
        self.times = np.unique(t[e])
        J = self.times.size
        self.N = np.empty((J, K))  # weight at risk (time >= t) per death time and pattern
        self.D = np.zeros((J, K))  # weight of the deaths
        self.last_time = np.empty(K)  # the pattern is at risk at the death times up to this one
        for k in range(K):
            mine = codes == k
            tk, wk, ek = t[mine], w[mine], e[mine]
            order = np.argsort(tk, kind="stable")
            tk, wk, ek = tk[order], wk[order], ek[order]
            self.last_time[k] = tk[-1]
            later = np.concatenate([np.cumsum(wk[::-1])[::-1], [0.0]])
            self.N[:, k] = later[np.searchsorted(tk, self.times, side="left")]
            self.D[:, k] = np.bincount(np.searchsorted(self.times, tk[ek]), weights=wk[ek], minlength=J)
        _prepare_steps(self, np.round(self.D.sum(axis=1)).astype(np.int64))
        self.NT, self.DT = np.ascontiguousarray(self.N.T), np.ascontiguousarray(self.D.T)
        self.dead_per_pattern = self.D.sum(axis=0)
        self.xd = self.dead_per_pattern @ self.P
        self.users, self.rows = float(w.sum()), t.size
        pattern_weight = np.bincount(codes, weights=w, minlength=K)
        self.scale = np.sqrt(pattern_weight @ self.P**2 / pattern_weight.sum())

    def _sums(self, beta):
        eta = self.P @ beta
        shift = eta.max()
        phi = np.exp(eta - shift)
        # Matrix products on the (J x K) tables: one BLAS call each (13x faster at J = 500k
        # than summing K outer products).
        Q = phi[:, None] * self.P
        S0, T0 = self.N @ phi, self.D @ phi
        S1, T1 = self.N @ Q, self.D @ Q
        return eta, phi, shift, S0, S1, T0, T1, *_efron_steps(self, S0, T0)

    def evaluate(self, beta):
        """Efron log-likelihood, gradient and information at ``beta``, from the pattern table.

        Parameters
        ----------
        beta : numpy.ndarray
            Where to evaluate: one coefficient per column of the patterns.

        Returns
        -------
        tuple
            ``(loglik, gradient, information)``, as :meth:`EfronRows.evaluate`.
        """
        eta, phi, shift, S0, S1, T0, T1, H1, C1, H2, C2, CC2, LG = self._sums(beta)
        loglik = float(self.dead_per_pattern @ (eta - shift) - LG.sum())
        gradient = self.xd - (H1 @ S1 - C1 @ T1)
        a = phi * (self.NT @ H1 - self.DT @ C1)
        return loglik, gradient, _information(self.P, a, S1, T1, H2, C2, CC2)

    def ph_terms(self, beta):
        """Per (death time, pattern) cell with deaths: residual, weight, Kaplan-Meier transform.

        Parameters
        ----------
        beta : numpy.ndarray
            The estimate of the fit being tested.

        Returns
        -------
        tuple of numpy.ndarray
            ``(residuals, weights, transform)`` as :meth:`EfronRows.ph_terms`, one entry per cell.
        """
        _, _, _, _, S1, _, T1, H1, C1, _, _, _, _ = self._sums(beta)
        means = (S1 * H1[:, None] - T1 * C1[:, None]) / self.d[:, None]
        survival = np.cumprod(1.0 - self.d / self.N.sum(axis=1))
        j, k = np.nonzero(self.D)
        return self.P[k] - means[j], self.D[j, k], 1.0 - survival[j]

    def extremes(self):
        """Per cell with deaths and per death time, the values ``monotone_columns`` compares.

        Returns
        -------
        tuple of numpy.ndarray
            As :meth:`EfronRows.extremes`, one death entry per (death time, pattern) cell.
        """
        # At death time t the patterns at risk are those whose last time is >= t: the first m of
        # the patterns sorted latest first, so the risk-set extremes are running extremes (O(J + K)
        # per column instead of a J x K pass).
        order = np.argsort(-self.last_time, kind="stable")
        m = np.searchsorted(-self.last_time[order], -self.times, side="right")  # >= 1: the dying one
        ranked = self.P[order]
        risk_max = np.maximum.accumulate(ranked, axis=0)[m - 1]
        risk_min = np.minimum.accumulate(ranked, axis=0)[m - 1]
        j, k = np.nonzero(self.D)
        return self.P[k], risk_max, risk_min, j

