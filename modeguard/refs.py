"""References to user code: ``package.module:NAME`` or ``path/to/file.py:NAME``.

``--model mine.py:build`` and ``--data mypkg.data:load`` name a callable this way; the
reference (not the object) is what ``config.yaml`` records, so a fresh process finds the
same code again. Every failure is one :class:`~modeguard.errors.ConfigError` line.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import ConfigError

_NAME = r"[A-Za-z_]\w*"
#: ``dotted.module:NAME`` or ``some/path/file.py:NAME`` (the path may hold any characters but ':')
REF_PATTERN = re.compile(rf"(?P<module>(?:[^:\x00-\x1f]+\.py)|(?:{_NAME}(?:\.{_NAME})*)):(?P<name>{_NAME})")

#: modules loaded from files, by (resolved path, mtime, size): a file is executed once per version
_FILE_MODULES: dict[tuple[str, int, int], ModuleType] = {}


def is_ref(text: Any) -> bool:
    """True when ``text`` has the form ``package.module:NAME`` or ``path/file.py:NAME``."""
    return isinstance(text, str) and REF_PATTERN.fullmatch(text) is not None


def split_ref(ref: str) -> tuple[str, str]:
    """``"a.b:NAME"`` -> ``("a.b", "NAME")``; ``"dir/f.py:NAME"`` -> ``("dir/f.py", "NAME")``.

    Raises :class:`ConfigError` when ``ref`` has neither form.
    """
    match = REF_PATTERN.fullmatch(ref) if isinstance(ref, str) else None
    if match is None:
        raise ConfigError(f"{ref!r} is not a reference to code: use package.module:NAME or path/to/file.py:NAME")
    return match["module"], match["name"]


def canonical_ref(ref: str) -> str:
    """``ref`` with a file path made absolute (``mine.py:build`` -> ``/cwd/mine.py:build``), so a
    run records a reference that works from any folder; module references come back unchanged.
    Raises :class:`ConfigError` when ``ref`` is not a reference."""
    module_part, name = split_ref(ref)
    if not module_part.endswith(".py"):
        return ref
    return f"{Path(module_part).expanduser().resolve()}:{name}"


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def _import_file(path: Path, ref: str) -> ModuleType:
    if not path.is_file():
        raise ConfigError(f"{ref}: file not found: {path}")
    resolved = path.resolve()
    stat = resolved.stat()
    key = (str(resolved), stat.st_mtime_ns, stat.st_size)
    if key in _FILE_MODULES:
        return _FILE_MODULES[key]
    # a unique, stable module name per file, so classes defined there have a usable __module__
    module_name = "modeguard_user_" + hashlib.sha1(str(resolved).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(module_name, resolved)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # user code may raise anything while it is imported
        sys.modules.pop(module_name, None)
        raise ConfigError(f"{ref}: importing {path} failed: {_one_line(e)}") from None
    _FILE_MODULES[key] = module
    return module


def _import_module(name: str, ref: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name and name.startswith(e.name):  # the module itself (or a parent package) is missing
            raise ConfigError(f"{ref}: no module named '{e.name}'") from None
        raise ConfigError(f"{ref}: importing {name} failed: {_one_line(e)}") from None
    except Exception as e:
        raise ConfigError(f"{ref}: importing {name} failed: {_one_line(e)}") from None


def load_object(ref: str, callable_: bool = True) -> Any:
    """The object a reference names.

    ``ref``: ``package.module:NAME`` (imported the usual way, so the package must be on
    ``sys.path``) or ``path/to/file.py:NAME`` (the file is executed once per version of it).
    Returns the object bound to ``NAME``. Raises :class:`ConfigError` (one line) when the
    reference is malformed, the file or module is missing, importing it fails, ``NAME`` is
    not defined there, or (with ``callable_``) the object is not callable.
    """
    module_part, name = split_ref(ref)
    if module_part.endswith(".py"):
        module = _import_file(Path(module_part).expanduser(), ref)
    else:
        module = _import_module(module_part, ref)
    if not hasattr(module, name):
        raise ConfigError(f"{ref}: {module_part} defines no '{name}'")
    obj = getattr(module, name)
    if callable_ and not callable(obj):
        raise ConfigError(f"{ref}: '{name}' is a {type(obj).__name__}, not a function or class")
    return obj
