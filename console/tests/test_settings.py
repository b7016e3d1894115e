"""Settings only compute values; ``console.startup.prepare()`` creates what they point at."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from console import startup
from console.settings import env_bool

ROOT = Path(__file__).resolve().parents[2]


def _clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
        and not name.startswith("FUNCTORY_")
    }
    return {**env, "FUNCTORY_DATA_DIR": str(data_dir), **extra}


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True
    )


def test_importing_settings_creates_nothing_on_disk(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"
    result = _python(
        "import console.settings as s; print(s.SECRET_KEY == '', s.CELERY_BROKER_URL)",
        _clean_env(data_dir),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "filesystem://"]
    assert list(tmp_path.iterdir()) == []


def test_the_startup_step_creates_the_data_dir_key_and_broker_folders(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"
    code = (
        "from console import startup; startup.prepare(); "
        "import console.settings as s; print(len(s.SECRET_KEY))"
    )
    first = _python(code, _clean_env(data_dir))
    assert first.returncode == 0, first.stderr
    assert int(first.stdout) >= 50
    key = (data_dir / "secret_key").read_text()
    assert (data_dir / "secret_key").stat().st_mode & 0o777 == 0o600
    assert (data_dir / "broker" / "out").is_dir()
    assert (data_dir / "broker" / "processed").is_dir()
    assert (data_dir / "static").is_dir()
    # Idempotent: the key is generated once per data dir, no temporary file is left.
    again = _python(code, _clean_env(data_dir))
    assert again.returncode == 0, again.stderr
    assert (data_dir / "secret_key").read_text() == key
    assert sorted(p.name for p in data_dir.iterdir()) == ["broker", "secret_key", "static"]


def test_a_configured_key_and_broker_need_no_files(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = _clean_env(data_dir, DJANGO_SECRET_KEY="k" * 50, CELERY_BROKER_URL="redis://x:1/0")
    result = _python("from console import startup; startup.prepare()", env)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in data_dir.iterdir()) == ["static"]


def test_django_refuses_a_key_the_startup_step_never_made(tmp_path: Path) -> None:
    result = _python(
        "import django; django.setup(); from django.conf import settings; settings.SECRET_KEY",
        _clean_env(tmp_path / "data", DJANGO_SETTINGS_MODULE="console.settings"),
    )
    assert result.returncode != 0
    assert "The SECRET_KEY setting must not be empty" in result.stderr


def test_manage_py_prepares_before_django_reads_the_settings(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env=_clean_env(data_dir, DJANGO_SETTINGS_MODULE="console.settings"),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (data_dir / "secret_key").is_file()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        (" On ", True),
        ("0", False),
        ("False", False),
        ("no", False),
        ("off", False),
    ],
)
def test_env_bool_accepts_the_usual_spellings(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: bool
) -> None:
    monkeypatch.setenv("FUNCTORY_SOME_FLAG", value)
    assert env_bool("FUNCTORY_SOME_FLAG", not expected) is expected


@pytest.mark.parametrize("default", [True, False])
def test_env_bool_unset_or_empty_is_the_default(
    monkeypatch: pytest.MonkeyPatch, default: bool
) -> None:
    monkeypatch.delenv("FUNCTORY_SOME_FLAG", raising=False)
    assert env_bool("FUNCTORY_SOME_FLAG", default) is default
    monkeypatch.setenv("FUNCTORY_SOME_FLAG", "")
    assert env_bool("FUNCTORY_SOME_FLAG", default) is default


@pytest.mark.parametrize("value", ["ture", "2", "enabled", "y", "nope"])
def test_env_bool_refuses_a_typo_naming_the_variable_and_value(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("FUNCTORY_SOME_FLAG", value)
    with pytest.raises(ImproperlyConfigured) as refused:
        env_bool("FUNCTORY_SOME_FLAG", False)
    assert "FUNCTORY_SOME_FLAG" in str(refused.value)
    assert repr(value) in str(refused.value)


def test_a_bad_boolean_stops_the_settings_with_a_clear_error(tmp_path: Path) -> None:
    result = _python(
        "import console.settings",
        _clean_env(tmp_path / "data", FUNCTORY_SECURE_COOKIES="ture"),
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: FUNCTORY_SECURE_COOKIES='ture' is not a yes/no value" in (
        result.stderr
    )


def test_settings_and_startup_agree_on_the_paths() -> None:
    from django.conf import settings

    assert startup.data_dir() == settings.DATA_DIR
    assert Path(settings.STATIC_ROOT) == startup.static_root()
