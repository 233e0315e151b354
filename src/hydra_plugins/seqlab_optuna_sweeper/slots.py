"""Which trials use up the study's n_trials, and which parameter sets are already taken.

A trial takes a slot when it is COMPLETE, PRUNED or RUNNING, or FAIL because its job failed (the
sweeper marks those with FAILURE_ATTR before telling: the same values would fail again). A FAIL
trial without that mark was abandoned (its worker died or was interrupted) or skipped (it drew
a parameter set already taken, SKIPPED_ATTR): it takes no slot, so the slot runs again.

The parameter sets of the slot-taking trials are "taken": no worker runs one twice. In a finite
space (every parameter a choice, an int, or a float with a step) a draw that repeats one is
recorded as skipped and replaced by a random untaken set, and the search ends when every set is
taken; grid and brute-force samplers see running trials themselves, so under the reservation
lock they do not repeat.
"""

import itertools
import math
import random
from typing import Any

FAILURE_ATTR = "seqlab.failure"  # why the trial's job failed
SKIPPED_ATTR = "seqlab.skipped"  # the trial whose parameter set this draw repeated
WORKER_ATTR = "seqlab.worker"  # "<host> <pid>" of the worker that ran it, for the record
# Above this many sets, untaken ones are not listed: a repeat there is drawn again instead.
MAX_LISTED = 100_000


def takes_slot(trial: Any) -> bool:
    from optuna.trial import TrialState

    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING):
        return True
    return trial.state == TrialState.FAIL and FAILURE_ATTR in trial.user_attrs


def taken_sets(trials: list[Any], space: dict[str, Any]) -> dict[tuple[Any, ...], int]:
    """{parameter set in this space: the number of the trial that took it}."""
    taken: dict[tuple[Any, ...], int] = {}
    for trial in trials:
        if takes_slot(trial) and set(trial.params) == set(space):
            taken.setdefault(_key(trial.params, space), trial.number)
    return taken


def repeated(values: dict[str, Any], taken: dict[tuple[Any, ...], int], space: dict) -> int | None:
    """The number of the trial that already took `values`, if one did."""
    return taken.get(_key(values, space))


def size(space: dict[str, Any]) -> int | None:
    """How many parameter sets the space holds; None when a float has no step (infinite)."""
    counts = [_count(dist) for dist in space.values()]
    return None if None in counts else math.prod(c for c in counts if c is not None)


def untaken(
    space: dict[str, Any], taken: dict[tuple[Any, ...], int], seed: int
) -> dict[str, Any] | None:
    """A random untaken set of a finite space (None: infinite, too large to list, or none left)."""
    total = size(space)
    if total is None or total > MAX_LISTED:
        return None
    keys = list(space)
    free = [
        combination
        for combination in itertools.product(*(_values(space[k]) for k in keys))
        if _key(dict(zip(keys, combination, strict=True)), space) not in taken
    ]
    if not free:
        return None
    return dict(zip(keys, random.Random(seed).choice(free), strict=True))


def _key(values: dict[str, Any], space: dict[str, Any]) -> tuple[Any, ...]:
    # Floats rounded: a float's steps are computed, not typed, and may differ in the last bit.
    return tuple(
        round(values[k], 12) if isinstance(values[k], float) else values[k] for k in sorted(space)
    )


def _count(dist: Any) -> int | None:
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        return len(dist.choices)
    if isinstance(dist, IntDistribution):
        return (dist.high - dist.low) // dist.step + 1
    return None if dist.step is None else round((dist.high - dist.low) / dist.step) + 1


def _values(dist: Any) -> list[Any]:
    """Every value of a finite distribution (a float's from its steps)."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    if isinstance(dist, IntDistribution):
        return list(range(dist.low, dist.high + 1, dist.step))
    return [dist.low + i * dist.step for i in range(_count(dist) or 0)]
