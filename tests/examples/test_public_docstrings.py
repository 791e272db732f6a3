"""Every public name has a docstring (the API reference, ``make docs``, is built from them).

Public modules are those of ``codex_manager`` whose dotted path has no ``_``-prefixed part;
public names are their ``__all__``. Classes and functions defined in ``codex_manager`` need
their own docstring, and so does every public method and property of a public class.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import codex_manager


def public_modules() -> list[ModuleType]:
    """``codex_manager`` and its public submodules, imported."""
    names = ["codex_manager"]
    for info in pkgutil.walk_packages(codex_manager.__path__, "codex_manager."):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            names.append(info.name)
    return [importlib.import_module(name) for name in names]


def undocumented_members(owner: str, cls: type) -> list[str]:
    """Public methods and properties defined on ``cls`` without a docstring."""
    missing: list[str] = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            function: object = member.fget
        elif isinstance(member, classmethod | staticmethod):
            function = member.__func__
        else:
            function = member
        if inspect.isfunction(function) and not (function.__doc__ or "").strip():
            missing.append(f"{owner}.{cls.__name__}.{name}")
    return missing


def test_every_public_name_has_a_docstring() -> None:
    modules = public_modules()
    assert len(modules) > 10  # the walk found the package
    missing: list[str] = []
    for module in modules:
        if not (module.__doc__ or "").strip():
            missing.append(f"module {module.__name__}")
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            if not (inspect.isclass(value) or inspect.isfunction(value)):
                continue  # constants and type aliases are documented in their module
            if not str(getattr(value, "__module__", "")).startswith("codex_manager"):
                continue  # re-exported from generated or third-party code
            own_doc = value.__dict__.get("__doc__") if inspect.isclass(value) else value.__doc__
            if not (own_doc or "").strip():
                missing.append(f"{module.__name__}.{name}")
            if inspect.isclass(value):
                missing.extend(undocumented_members(module.__name__, value))
    assert sorted(set(missing)) == []
