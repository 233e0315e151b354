"""From Hydra's sweep syntax to Optuna distributions, and from a trial's values back to overrides.

choice(a, b, ...) or a,b,...   -> categorical (lists and dicts are kept as override strings)
range(start, stop, step)        -> int (or float) with that step; stop excluded, as in Hydra
interval(low, high)             -> uniform float (int when both ends are ints)
tag(log, interval(low, high))   -> log-uniform
anything else                   -> a fixed override applied to every trial
"""

from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep

from seqlab.errors import SeqlabError


def parse(params: dict[str, str], arguments: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Return the search space {key: distribution} and the fixed overrides; command-line
    arguments come after the config's params, so they win for the same key."""
    from optuna.distributions import BaseDistribution

    lines = [f"{key}={value}" for key, value in params.items()] + list(arguments)
    space: dict[str, BaseDistribution] = {}
    fixed: dict[str, str] = {}
    for override in OverridesParser.create().parse_overrides(lines):
        key = override.get_key_element()
        space.pop(key, None)
        fixed.pop(key, None)
        if override.is_sweep_override():
            space[key] = _distribution(key, override.value())
        else:
            assert override.input_line is not None  # parse_overrides keeps each input line
            fixed[key] = override.input_line
    return space, list(fixed.values())


def to_overrides(values: dict[str, Any]) -> list[str]:
    return [
        f"{key}={value if isinstance(value, str) else Override._get_value_element_as_str(value)}"
        for key, value in values.items()
    ]


def suggest(trial: Any, key: str, dist: Any) -> Any:
    """Draw the trial's value through the public suggest API (so samplers see a normal trial)."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(key, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(key, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_float(key, dist.low, dist.high, step=dist.step, log=dist.log)


def sample_values(space: dict[str, Any]) -> dict[str, Any]:
    """One value per parameter (its low end or first choice), to check the space composes."""
    return {
        key: (dist.choices[0] if hasattr(dist, "choices") else dist.low)
        for key, dist in space.items()
    }


def _distribution(key: str, sweep: Any) -> Any:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    log = "log" in sweep.tags
    if isinstance(sweep, ChoiceSweep):
        choices = [
            c if c is None or isinstance(c, bool | int | float | str) else _as_str(c)
            for c in sweep.list
        ]
        return CategoricalDistribution(choices)
    if isinstance(sweep, RangeSweep):
        if sweep.start is None or sweep.stop is None:
            raise SeqlabError(f"hparams_search: {key}: range needs a start and a stop")
        values = list(sweep.range())  # stop excluded
        if not values:
            raise SeqlabError(f"hparams_search: {key}: range({sweep.start}, {sweep.stop}) is empty")
        start, stop, step = sweep.start, sweep.stop, sweep.step
        if isinstance(start, int) and isinstance(stop, int) and isinstance(step, int):
            return IntDistribution(values[0], values[-1], step=step, log=log)
        return FloatDistribution(values[0], values[-1], step=sweep.step, log=log)
    if isinstance(sweep, IntervalSweep):
        assert sweep.start is not None and sweep.end is not None  # interval(start, end)
        if isinstance(sweep.start, int) and isinstance(sweep.end, int):
            return IntDistribution(sweep.start, sweep.end, log=log)
        return FloatDistribution(float(sweep.start), float(sweep.end), log=log)
    raise SeqlabError(
        f"hparams_search: {key}: {type(sweep).__name__} is not supported; use choice(), "
        "range() or interval()"
    )


def _as_str(value: Any) -> str:
    return Override._get_value_element_as_str(value)
