"""The compiled cffi module (tsps._native): ``ffi`` and ``lib``."""
try:
    from ._native import ffi, lib  # noqa: F401  (re-exported)
except ImportError as e:  # pragma: no cover - depends on the installation
    raise ImportError(
        "tsps: the compiled part (tsps._native) cannot be loaded: %s. Build "
        "the package with `pip install --no-build-isolation ./bindings/python`"
        " against libtsps/libcmsbridge (see bindings/python/README.md); if "
        "libtsps.so.0 is not found, the libraries moved since the build "
        "(set LD_LIBRARY_PATH or rebuild)." % e) from e
