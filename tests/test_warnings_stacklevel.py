"""Where the SDK's warnings point: the user's line, through the SDK and the standard library."""

from __future__ import annotations

import threading
import types
import warnings


def _sdk_module() -> types.ModuleType:
    """A module named like the SDK's, whose warn() warns at caller_stacklevel()."""
    sdk = types.ModuleType("codex_manager.fake_for_stacklevel")
    exec(
        "import warnings\n"
        "from codex_manager._warnings import caller_stacklevel\n"
        "def warn():\n"
        "    warnings.warn('look here', UserWarning, stacklevel=caller_stacklevel())\n",
        sdk.__dict__,
    )
    return sdk


def _warn_as_the_sdk() -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _sdk_module().warn()
    return caught


def test_a_warning_names_the_users_line() -> None:
    (caught,) = _warn_as_the_sdk()
    assert caught.filename == __file__


def test_a_user_module_named_like_the_standard_library_is_the_users() -> None:
    # "threading_utils" is not "threading": its line is the user's, not one to look past.
    user = types.ModuleType("threading_utils")
    exec(compile("def call(f):\n    f()\n", "threading_utils.py", "exec"), user.__dict__)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        user.call(_sdk_module().warn)
    (message,) = caught
    assert message.filename == "threading_utils.py"


def test_an_sdk_call_run_as_a_threads_target_stays_on_the_stack() -> None:
    # Every frame is the SDK's or threading's: the warning names the outermost frame
    # (threading's), not a line past the stack (reported as module "sys", line 1).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        thread = threading.Thread(target=_sdk_module().warn)
        thread.start()
        thread.join()
    (message,) = caught
    assert message.filename == threading.__file__
