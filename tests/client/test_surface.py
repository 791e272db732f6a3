"""The public surface: every operation has a method, sync/async parity, generated files fresh."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from codex_manager import AsyncCodexManager, CodexManager
from codex_manager.client._bindings import binding
from codex_manager.client._operations import OPERATIONS, REST_OPERATIONS

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi" / "codex-manager.openapi.yaml"
HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


def _spec_operations(document: dict[str, object]) -> Iterator[tuple[str, str, str]]:
    paths = document["paths"]
    assert isinstance(paths, dict)
    for path, item in paths.items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield operation["operationId"], method.upper(), path


def _resolve(root: object, dotted: str) -> object:
    target = root
    for part in dotted.split("."):
        target = getattr(target, part)
    return target


def test_every_spec_operation_has_a_method() -> None:
    document = yaml.safe_load(SPEC.read_text())
    seen = set()
    with CodexManager("http://127.0.0.1:9") as cm:
        for operation_id, method, path in _spec_operations(document):
            seen.add(operation_id)
            assert operation_id in OPERATIONS, f"{operation_id} has no client method"
            operation = OPERATIONS[operation_id]
            assert (operation.method, "/api" + operation.path) == (method, path)
            assert callable(_resolve(cm, operation.facade)) or operation.facade == "stream"
    assert seen == set(OPERATIONS)


@pytest.mark.shared
def test_reference_spec_operations_are_covered(reference_spec_path: Path) -> None:
    document = json.loads(reference_spec_path.read_text())
    for operation_id, method, path in _spec_operations(document):
        operation = OPERATIONS[operation_id]
        assert (operation.method, "/api" + operation.path) == (method, path)


@pytest.mark.parametrize("operation_id", sorted(REST_OPERATIONS))
def test_generated_binding_accepts_what_the_client_passes(operation_id: str) -> None:
    bound = binding(operation_id)
    template_names = [part.split("}")[0] for part in OPERATIONS[operation_id].path.split("{")[1:]]
    for name in template_names:
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
        assert snake in bound.parameters, f"{operation_id}: binding lacks {snake}"


def _public_methods(obj: object) -> dict[str, inspect.Signature]:
    found = {}
    for name in dir(obj):
        if name.startswith("_"):
            continue
        value = getattr(type(obj), name, None)
        if callable(value):
            found[name] = inspect.signature(value)
    return found


def _comparable(signature: inspect.Signature) -> list[tuple[str, object, object, str]]:
    """Parameters with annotations made sync-neutral (``Async`` prefixes removed)."""
    return [
        (p.name, p.kind, p.default, str(p.annotation).replace("Async", ""))
        for p in signature.parameters.values()
    ]


def _walk(sync_obj: object, async_obj: object, where: str) -> Iterator[tuple[str, str]]:
    sync_methods = _public_methods(sync_obj)
    async_methods = _public_methods(async_obj)
    sync_only = set(sync_methods) - set(async_methods) - {"close"}
    async_only = set(async_methods) - set(sync_methods) - {"aclose", "close"}
    assert not sync_only, f"{where}: only on the sync client: {sorted(sync_only)}"
    assert not async_only, f"{where}: only on the async client: {sorted(async_only)}"
    for name in sorted(set(sync_methods) & set(async_methods)):
        if name in {"close"}:
            continue
        if _comparable(sync_methods[name]) != _comparable(async_methods[name]):
            yield f"{where}.{name}", f"{sync_methods[name]} != {async_methods[name]}"


def test_sync_and_async_clients_have_the_same_methods() -> None:
    sync_client = CodexManager("http://127.0.0.1:9")
    async_client = AsyncCodexManager("http://127.0.0.1:9")
    pairs: list[tuple[object, object, str]] = [(sync_client, async_client, "cm")]
    groups = {op.facade.split(".")[0] for op in OPERATIONS.values() if "." in op.facade}
    pairs += [(getattr(sync_client, g), getattr(async_client, g), g) for g in sorted(groups)]
    pairs += [(sync_client.wait, async_client.wait, "wait")]
    sync_handle, async_handle = sync_client.session("s"), async_client.session("s")
    pairs.append((sync_handle, async_handle, "session()"))
    for part in ("messages", "tool_calls", "approvals", "tool_input", "settings", "controls"):
        pairs.append((getattr(sync_handle, part), getattr(async_handle, part), part))
    mismatches = [m for s, a, where in pairs for m in _walk(s, a, where)]
    sync_client.close()
    assert not mismatches, mismatches
    method_count = sum(len(_public_methods(s)) for s, _, _ in pairs)
    assert method_count > 100


def test_async_methods_are_coroutines() -> None:
    client = AsyncCodexManager("http://127.0.0.1:9")
    assert inspect.iscoroutinefunction(client.sessions.create)
    assert inspect.iscoroutinefunction(client.session("s").tool_calls.list)
    assert inspect.iscoroutinefunction(client.wait.turn)


def test_generated_facade_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_client.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _modules_after(statement: str, prefix: str) -> list[str]:
    """The modules starting with ``prefix`` that ``statement`` loads in a fresh interpreter."""
    code = (
        f"import sys\n{statement}\n"
        f"print('\\n'.join(m for m in sys.modules if m.startswith({prefix!r})))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_import_is_light() -> None:
    loaded = _modules_after("import codex_manager", "")
    heavy = ("httpx", "codex_manager_api", "codex_manager_models", "websockets", "pydantic")
    assert [m for m in loaded if m.split(".")[0] in heavy] == []


def test_a_client_does_not_load_the_stream_until_it_is_used() -> None:
    # The clients' stream shortcuts imported the stream package for a type variable: about
    # 10 ms more on every `from codex_manager import CodexManager` (measured by the bench).
    assert _modules_after("from codex_manager import CodexManager", "codex_manager.stream") == []


def test_a_first_call_loads_only_the_models_it_needs() -> None:
    # The generated models package imports each model on first use (openapi/templates/).
    models = _modules_after(
        "import codex_manager_api.api.tool_calls.respond_tool_call", "codex_manager_api.models."
    )
    assert 0 < len(models) <= 12, f"{len(models)} model modules loaded for one endpoint"


def test_generated_models_resolve_lazily_and_all_of_them() -> None:
    import codex_manager_api.models as models
    from codex_manager_api.models.tool_call_response_request import ToolCallResponseRequest

    assert models.ToolCallResponseRequest is ToolCallResponseRequest
    for name in models.__all__:
        assert getattr(models, name) is not None, name  # classes and Literal aliases
    assert set(models.__all__) <= set(dir(models))
    with pytest.raises(AttributeError):
        _ = models.NoSuchModel


def test_package_exports_resolve() -> None:
    import codex_manager

    for name in codex_manager.__all__:
        assert getattr(codex_manager, name) is not None, name
    # The lazy-export table and __all__ are kept by hand side by side: they must agree.
    assert set(codex_manager.__all__) == set(codex_manager._EXPORTS)
    missing = "NoSuchThing"
    with pytest.raises(AttributeError):
        getattr(codex_manager, missing)
