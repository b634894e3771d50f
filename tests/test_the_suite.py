"""The suite's own rules: expected failures are strict, CI draws fixed examples, the fast
lane leaves out exactly the tests marked slow."""

import importlib.util
import os
from pathlib import Path

from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]


def test_an_expected_failure_that_passes_fails_the_run(request):
    assert request.config.getini("xfail_strict") is True


def test_the_slow_marker_is_registered(request):
    assert any(line.startswith("slow:") for line in request.config.getini("markers"))


def test_hypothesis_draws_fixed_examples_on_ci_only():
    assert settings.get_profile("ci").derandomize is True
    assert settings.get_profile("ci").database is None
    # the profile in force: the ci one when CI is set, the exploring default otherwise
    assert settings.default.derandomize is bool(os.environ.get("CI"))


def _tasks():
    spec = importlib.util.spec_from_file_location("tasks", ROOT / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_fast_lane_leaves_out_the_slow_tests_only(monkeypatch):
    tasks = _tasks()
    commands = []
    monkeypatch.setattr(tasks, "ensure_venv", lambda *args, **kwargs: Path("python"))
    monkeypatch.setattr(tasks, "run", lambda *command: commands.append(command) or 0)
    assert tasks.test(["--fast", "-x"]) == 0
    pytest_command = commands[-1]
    assert pytest_command[1:3] == ("-m", "pytest")
    assert pytest_command[3:] == ("-x", "-m", "not slow")
    commands.clear()
    assert tasks.test(["-x"]) == 0  # the whole suite, as CI runs it
    assert commands[-1][3:] == ("-x",)
