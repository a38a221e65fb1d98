"""A MkDocs hook: the Python API must have a docstring on every public function, class and method,
or the build (strict) fails."""

import inspect
import logging

log = logging.getLogger("mkdocs.plugins.sentaligner")


def on_pre_build(config, **kwargs) -> None:
    import sentaligner
    from sentaligner import api

    for name in sentaligner.__all__:
        if name.startswith("__"):
            continue
        item = getattr(api, name)
        if not inspect.getdoc(item):
            log.warning(f"sentaligner.{name} has no docstring")
        if inspect.isclass(item):
            for member, value in vars(item).items():
                if not member.startswith("_") and callable(value) and not inspect.getdoc(value):
                    log.warning(f"sentaligner.{name}.{member} has no docstring")
