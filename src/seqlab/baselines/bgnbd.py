"""BG/NBD (Fader, Hardie and Lee 2005), the standard model of customer futures, fitted with
`lifetimes`' BetaGeoFitter on NumPy arrays of frequency, recency and T (computed by seqlab's
own event code, data/events/futures.py; lifetimes' pandas helpers fail under pandas 3).

Only the conditioning weeks go in, so it sees exactly what seqlab's decoder is conditioned on.
"""

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from seqlab.errors import SeqlabError

if TYPE_CHECKING:
    from lifetimes import BetaGeoFitter

log = logging.getLogger(__name__)
PENALIZERS = (0.0, 0.001, 0.01, 0.1)


@dataclass
class BGNBD:
    params: dict[str, float]  # r, alpha, a, b
    fitter: "BetaGeoFitter"


def fit_bgnbd(frequency: np.ndarray, recency: np.ndarray, age: np.ndarray) -> BGNBD:
    """Maximum likelihood over every entity's calibration summary (in weeks)."""
    try:
        from lifetimes import BetaGeoFitter
    except ImportError as error:
        raise SeqlabError(
            f"BG/NBD needs lifetimes, a dependency of seqlab ({error}); run: make install"
        ) from None
    from lifetimes.utils import ConvergenceError

    # Unpenalised maximum likelihood, as published; a small L2 penalty only where the
    # optimiser fails without one (a few hundred customers), said in the log.
    for penalizer in PENALIZERS:
        fitter = BetaGeoFitter(penalizer_coef=penalizer)
        try:
            fitter.fit(frequency, recency, age)
        except ConvergenceError:
            log.warning("BG/NBD did not converge with penalizer_coef=%s", penalizer)
            continue
        params = {k: float(v) for k, v in fitter.params_.items()}
        return BGNBD({**params, "penalizer": penalizer}, fitter)
    raise SeqlabError(
        f"BG/NBD did not converge on {len(frequency)} customers even with penalizer_coef="
        f"{PENALIZERS[-1]}; condition on more customers or more weeks (data.cutoff.time)"
    )


def expected_weekly(
    model: BGNBD, frequency: np.ndarray, recency: np.ndarray, age: np.ndarray, weeks: int
) -> np.ndarray:
    """(entities, weeks) expected purchases in each week after the cutoff, conditional on each
    entity's calibration summary: differences of the expected cumulative count."""
    predict = model.fitter.conditional_expected_number_of_purchases_up_to_time
    cumulative = np.stack(
        [np.zeros(len(frequency))]
        + [
            np.asarray(predict(t, frequency, recency, age), dtype=np.float64)
            for t in range(1, weeks + 1)
        ],
        axis=1,
    )
    return np.diff(cumulative, axis=1)


def sampled_totals(
    model: BGNBD,
    frequency: np.ndarray,
    recency: np.ndarray,
    age: np.ndarray,
    weeks: int,
    samples: int,
    seed: int,
) -> np.ndarray:
    """(entities, samples) purchases in the `weeks` after the cutoff, drawn from BG/NBD's
    posterior predictive given each calibration summary: alive with lifetimes' conditional
    probability, then (alive) lambda ~ Gamma(r + x, alpha + T) and p ~ Beta(a, b + x); the
    count is the Poisson(lambda * weeks) purchases cut at the one after which the customer
    drops out (each purchase with probability p)."""
    params = model.params
    alive_probability = np.asarray(
        model.fitter.conditional_probability_alive(frequency, recency, age),
        dtype=np.float64,
    )
    rng = np.random.default_rng(seed)
    shape = (len(frequency), samples)
    alive = rng.random(shape) < alive_probability[:, None]
    rate = rng.gamma(
        params["r"] + frequency[:, None], 1.0 / (params["alpha"] + age[:, None]), shape
    )
    dropout = rng.beta(params["a"], params["b"] + frequency[:, None], shape)
    purchases = rng.poisson(rate * weeks)
    last = rng.geometric(np.clip(dropout, 1e-12, 1.0))  # the purchase after which it drops out
    return np.where(alive, np.minimum(purchases, last), 0)
