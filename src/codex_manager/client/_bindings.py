"""Locating the generated REST binding of an operation.

openapi-python-client writes one module per operation under
``codex_manager_api.api.<tag>.<operation_id in snake case>``, with ``sync_detailed`` and
``asyncio_detailed`` functions taking keyword arguments. The module is found by operation id
(whatever tag the spec gives it) and imported on first use, so ``import codex_manager``
stays light and only the operations a program calls are ever loaded.
"""

from __future__ import annotations

import importlib
import pkgutil
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

from codex_manager.errors import CodexManagerError, InvalidRequestBodyError

REST_PACKAGE = "codex_manager_api"


class BindingError(CodexManagerError):
    """The generated bindings lack an operation or differ from what the client expects.

    This points at a stale ``generated/`` folder: run ``make regen``.
    """


class BodyModel(typing.Protocol):
    """The attrs request-body model class of an operation (``from_dict`` constructor)."""

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, object]) -> object:
        """Build the model from a camelCase JSON object."""
        ...


@dataclass(frozen=True)
class Binding:
    """The generated functions and request-body model(s) of one operation."""

    operation_id: str
    module_name: str
    sync_detailed: Callable[..., object]
    asyncio_detailed: Callable[..., object]
    body_models: tuple[type[BodyModel], ...]
    parameters: frozenset[str]
    parse_response: Callable[..., object]
    """The module's ``_parse_response(client=, response=)``: the documented model of each
    status, raising when a body does not fit it (used where no ``*_detailed`` call parses).
    It reads ``response.status_code``, ``response.json()`` and ``response.content`` only."""

    def build_body(self, body: Mapping[str, object]) -> object:
        """The generated request model for a camelCase body (tries ``oneOf`` variants in order)."""
        if not self.body_models:
            raise BindingError(f"{self.operation_id} takes no request body in the bindings")
        failures: list[str] = []
        for model in self.body_models:
            try:
                return model.from_dict(body)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                failures.append(f"{model.__name__}: {type(exc).__name__}: {exc}")
        raise InvalidRequestBodyError(
            f"{self.operation_id}: the request body does not match the spec ({'; '.join(failures)})"
        )


@cache
def _module_index() -> Mapping[str, str]:
    """Operation-name key (lower case, no underscores) -> dotted module name."""
    try:
        api = importlib.import_module(f"{REST_PACKAGE}.api")
    except ImportError as exc:
        raise BindingError(
            f"the generated REST bindings ({REST_PACKAGE}.api) are missing; run `make regen`"
        ) from exc
    index: dict[str, str] = {}
    for tag in pkgutil.iter_modules(api.__path__):
        if not tag.ispkg:
            continue
        tag_path = [f"{path}/{tag.name}" for path in api.__path__]
        for module in pkgutil.iter_modules(tag_path):
            key = module.name.replace("_", "").lower()
            index[key] = f"{REST_PACKAGE}.api.{tag.name}.{module.name}"
    return index


def _body_models(function: Callable[..., object]) -> tuple[type[BodyModel], ...]:
    hints = typing.get_type_hints(function)
    hint = hints.get("body")
    if hint is None:
        return ()
    candidates = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    models: list[type[BodyModel]] = []
    for candidate in candidates:
        if isinstance(candidate, type) and hasattr(candidate, "from_dict"):
            models.append(typing.cast("type[BodyModel]", candidate))
    return tuple(models)


@cache
def binding(operation_id: str) -> Binding:
    """The generated binding of ``operation_id`` (imported on first use, then cached)."""
    module_name = _module_index().get(operation_id.lower())
    if module_name is None:
        raise BindingError(f"no generated binding for operation {operation_id!r}; run `make regen`")
    module = importlib.import_module(module_name)
    sync_detailed = getattr(module, "sync_detailed", None)
    asyncio_detailed = getattr(module, "asyncio_detailed", None)
    parse_response = getattr(module, "_parse_response", None)
    if (
        not callable(sync_detailed)
        or not callable(asyncio_detailed)
        or not callable(parse_response)
    ):
        raise BindingError(f"{module_name} lacks sync_detailed/asyncio_detailed/_parse_response")
    parameters = frozenset(typing.get_type_hints(sync_detailed)) - {"return", "client"}
    return Binding(
        operation_id=operation_id,
        module_name=module_name,
        sync_detailed=sync_detailed,
        asyncio_detailed=asyncio_detailed,
        body_models=_body_models(sync_detailed),
        parameters=parameters,
        parse_response=parse_response,
    )


__all__ = ["Binding", "BindingError", "binding"]
