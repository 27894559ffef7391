"""The local stand-in for Databricks' dbutils: what this project's notebooks and jobs use of it.

Widgets come from the job parameters the local runner passes; `jobs.taskValues` are shared by the tasks of one
local job run (files under the run folder); `fs` maps `dbfs:/` and `/Volumes/...` under a local folder;
`notebook.exit` records the result for the runner; `secrets` are read from the environment or `.env`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from credit_risk.runtime.context import TASK_ENV, project_home

if TYPE_CHECKING:
    from databricks.sdk.dbutils import FileInfo

WIDGETS_ENV = "CREDIT_RISK_WIDGETS"  # JSON object of widget values, set by the local job runner
RUN_DIR_ENV = "CREDIT_RISK_RUN_DIR"  # the local job run's folder (task values, exit values, notebooks)
FS_ROOT_ENV = "CREDIT_RISK_FS_ROOT"


class InputWidgetNotDefined(KeyError):
    """Raised like Databricks does when a widget was neither defined nor passed as a parameter."""


class _Widgets:
    def __init__(self) -> None:
        self._defaults: dict[str, str] = {}
        self._choices: dict[str, list[str]] = {}
        self._params: dict[str, str] = {
            k: str(v) for k, v in json.loads(os.environ.get(WIDGETS_ENV, "{}")).items()
        }

    def _define(self, name: str, default: str, choices: list[str] | None = None) -> None:
        if choices is not None and default not in choices and "," not in default:
            raise ValueError(f"widget {name!r}: default {default!r} is not one of {choices}")
        self._defaults[name] = default
        if choices is not None:
            self._choices[name] = list(choices)

    def text(self, name: str, defaultValue: str = "", label: str | None = None) -> None:
        self._define(name, defaultValue)

    def dropdown(self, name: str, defaultValue: str, choices: list[str], label: str | None = None) -> None:
        self._define(name, defaultValue, choices)

    def combobox(self, name: str, defaultValue: str, choices: list[str], label: str | None = None) -> None:
        self._define(name, defaultValue)  # a combobox accepts values outside its choices
        self._choices.pop(name, None)

    def multiselect(self, name: str, defaultValue: str, choices: list[str], label: str | None = None) -> None:
        for value in defaultValue.split(","):
            if value not in choices:
                raise ValueError(f"widget {name!r}: default {value!r} is not one of {choices}")
        self._defaults[name] = defaultValue

    def get(self, name: str) -> str:
        if name in self._params:
            value = self._params[name]
            if name in self._choices and value not in self._choices[name]:
                raise ValueError(f"widget {name!r}: value {value!r} is not one of {self._choices[name]}")
            return value
        if name in self._defaults:
            return self._defaults[name]
        raise InputWidgetNotDefined(f"no widget named {name!r} is defined or passed as a parameter")

    def getAll(self) -> dict[str, str]:
        return {**self._defaults, **self._params}

    def getArgument(self, name: str, defaultValue: str | None = None) -> str | None:
        try:
            return self.get(name)
        except InputWidgetNotDefined:
            return defaultValue

    def remove(self, name: str) -> None:
        self._defaults.pop(name, None)
        self._choices.pop(name, None)

    def removeAll(self) -> None:
        self._defaults.clear()
        self._choices.clear()


def _run_dir() -> Path | None:
    value = os.environ.get(RUN_DIR_ENV)
    return Path(value) if value else None


class _TaskValues:
    """Values a task publishes for its dependants; one JSON file per task under the run folder."""

    def __init__(self) -> None:
        self._memory: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _file(task: str) -> Path | None:
        run = _run_dir()
        return run / "task_values" / f"{task}.json" if run else None

    def _load(self, task: str) -> dict[str, Any]:
        f = self._file(task)
        if f and f.exists():
            values: dict[str, Any] = json.loads(f.read_text())
            return values
        return self._memory.get(task, {})

    def set(self, key: str, value: Any) -> None:
        json.dumps(value)  # Databricks accepts JSON-serialisable values only
        task = os.environ.get(TASK_ENV, "interactive")
        values = {**self._load(task), key: value}
        self._memory[task] = values
        f = self._file(task)
        if f:
            f.parent.mkdir(parents=True, exist_ok=True)
            tmp = f.with_suffix(".tmp")
            tmp.write_text(json.dumps(values, indent=1, default=str))
            os.replace(tmp, f)

    def get(self, taskKey: str, key: str, default: Any = None, debugValue: Any = None) -> Any:
        values = self._load(taskKey)
        if key in values:
            return values[key]
        if default is not None:
            return default
        if debugValue is not None:
            return debugValue
        raise ValueError(
            f"task {taskKey!r} has set no value {key!r} in this run, and no default or debugValue was given"
        )


class _Jobs:
    def __init__(self) -> None:
        self.taskValues = _TaskValues()


class _Fs:
    """File system calls with Databricks paths mapped under a local root."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def local(self, path: str) -> Path:
        if path.startswith("dbfs:/"):
            return self.root / "dbfs" / path.removeprefix("dbfs:/").lstrip("/")
        if path.startswith("/Volumes/") or path == "/Volumes":
            return self.root / path.lstrip("/")
        if path.startswith("file:"):
            return Path(path.removeprefix("file:"))
        return Path(path)

    def ls(self, path: str) -> list[FileInfo]:
        from databricks.sdk.dbutils import FileInfo  # Databricks' own type; importing the SDK costs seconds

        folder = self.local(path)
        if not folder.exists():
            raise FileNotFoundError(f"{path}: no such file or directory")
        entries = sorted(folder.iterdir()) if folder.is_dir() else [folder]
        base = path.rstrip("/")
        return [
            FileInfo(
                f"{base}/{e.name}{'/' if e.is_dir() else ''}" if folder.is_dir() else path,
                e.name + ("/" if e.is_dir() else ""),
                0 if e.is_dir() else e.stat().st_size,
                int(e.stat().st_mtime * 1000),
            )
            for e in entries
        ]

    def mkdirs(self, path: str) -> bool:
        self.local(path).mkdir(parents=True, exist_ok=True)
        return True

    def put(self, path: str, contents: str, overwrite: bool = False) -> bool:
        f = self.local(path)
        if f.exists() and not overwrite:
            raise FileExistsError(f"{path} exists (pass overwrite=True)")
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(contents)
        return True

    def head(self, path: str, maxBytes: int = 65536) -> str:
        with open(self.local(path), "rb") as fh:
            return fh.read(maxBytes).decode("utf-8", errors="replace")

    def cp(self, src: str, dst: str, recurse: bool = False) -> bool:
        s, d = self.local(src), self.local(dst)
        if s.is_dir():
            if not recurse:
                raise IsADirectoryError(f"{src} is a directory (pass recurse=True)")
            shutil.copytree(s, d, dirs_exist_ok=True)
        else:
            d.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, d)
        return True

    def mv(self, src: str, dst: str, recurse: bool = False) -> bool:
        s, d = self.local(src), self.local(dst)
        if s.is_dir() and not recurse:
            raise IsADirectoryError(f"{src} is a directory (pass recurse=True)")
        d.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(s, d)
        return True

    def rm(self, path: str, recurse: bool = False) -> bool:
        f = self.local(path)
        if not f.exists():
            return False
        if f.is_dir():
            if not recurse:
                raise IsADirectoryError(f"{path} is a directory (pass recurse=True)")
            shutil.rmtree(f)
        else:
            f.unlink()
        return True


class _Notebook:
    def exit(self, value: str) -> str:
        """Record the notebook's result for the local runner (on Databricks this ends the run)."""
        run = _run_dir()
        if run:
            out = run / "exit_values" / f"{os.environ.get(TASK_ENV, 'interactive')}.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(value))
        return value


class _Secrets:
    """Secrets from the environment (or the project's `.env`): scope `s`, key `k` is $S_K, else $K."""

    def __init__(self) -> None:
        from dotenv import dotenv_values

        env_file = project_home() / ".env"
        self._dotenv = (
            {k: v for k, v in dotenv_values(env_file).items() if v is not None} if env_file.exists() else {}
        )

    @staticmethod
    def _names(scope: str, key: str) -> list[str]:
        def norm(name: str) -> str:
            return re.sub(r"[^A-Za-z0-9]", "_", name).upper()

        return [f"{norm(scope)}_{norm(key)}", norm(key)]

    def get(self, scope: str, key: str) -> str:
        for name in self._names(scope, key):
            value = os.environ.get(name, self._dotenv.get(name))
            if value:
                return value
        raise KeyError(
            f"secret {scope}/{key} not found: set {' or '.join(self._names(scope, key))} in the environment or .env"
        )

    def listScopes(self) -> list[str]:
        return []


class LocalDbutils:
    """The local stand-in for Databricks' dbutils."""

    def __init__(self, fs_root: Path | None = None) -> None:
        self.widgets = _Widgets()
        self.jobs = _Jobs()
        self.fs = _Fs(fs_root or Path(os.environ.get(FS_ROOT_ENV) or project_home() / "local_fs"))
        self.notebook = _Notebook()
        self.secrets = _Secrets()


_LOCAL: LocalDbutils | None = None


def local_dbutils() -> LocalDbutils:
    """The process-wide shim: one per task, since it reads the task's widgets when it is made."""
    global _LOCAL
    if _LOCAL is None:
        _LOCAL = LocalDbutils()
    return _LOCAL


def reset_local_dbutils() -> None:
    """Forget the process-wide shim, so the next `local_dbutils()` reads the widgets of the task now running."""
    global _LOCAL
    _LOCAL = None
