"""Plain values into the option dataclasses, through OmegaConf's structured configs: defaults
filled in, types and enums checked, unknown keys named with the closest valid one.

Below seqlab.config and the registries of data and model kinds, which all build dataclasses with
it; it imports neither.
"""

import difflib
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any, cast

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, ValidationError

from seqlab.errors import SeqlabError


def to_dataclass(schema: type, values: dict[str, Any]) -> Any:
    """values (a validated, plain dict; keys may be missing) as an instance of schema, with the
    defaults filled in and enums as enum members."""
    return OmegaConf.to_object(merge_schema(schema, values, prefix=""))


def merge_schema(schema: type, node: Any, prefix: str) -> DictConfig:
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), node)
    except ConfigKeyError as error:
        raise SeqlabError(_unknown_key_message(schema, error, prefix)) from None
    except ValidationError as error:
        key = prefix + (error.full_key or "?")
        raise SeqlabError(
            f"config: {key}: {first_line(error)}; fix the value in the config "
            "or on the command line"
        ) from None
    OmegaConf.set_struct(merged, True)
    return cast(DictConfig, merged)


def _unknown_key_message(schema: type, error: ConfigKeyError, prefix: str) -> str:
    full_key = prefix + (error.full_key or "?")
    parent_key, _, key = full_key.rpartition(".")
    node_schema: Any = schema
    for part in (error.full_key or "").split(".")[:-1]:
        node_schema = node_schema.__dataclass_fields__[part].type
    valid = list(getattr(node_schema, "__dataclass_fields__", {}))
    close = difflib.get_close_matches(key, valid, n=1)
    hint = (
        f"did you mean {parent_key + '.' if parent_key else ''}{close[0]}?"
        if close
        else (f"valid keys: {', '.join(valid)}")
    )
    return f"config: unknown key {full_key}; {hint}"


def first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


def plain(config: Any) -> Any:
    """A validated config (dataclasses, enum members) as plain values: dicts, lists, strings.
    The boundaries that take plain values call it: a checkpoint's hyperparameters (loaded with
    torch's weights_only loader, which knows no seqlab class), the W&B config, the run state's
    digest and Lightning's keyword arguments."""
    if is_dataclass(config) and not isinstance(config, type):
        return {field.name: plain(getattr(config, field.name)) for field in fields(config)}
    if isinstance(config, Enum):
        return config.value
    if isinstance(config, dict):
        return {key: plain(value) for key, value in config.items()}
    if isinstance(config, list | tuple):
        return [plain(value) for value in config]
    return config
