"""Exit codes of the ``yizhan`` command (documented in README.md and ``yizhan --help``)."""

OK = 0  # done; for 'sync --once': new content applied
FAILURE = 1  # the command ran and failed (a check failed, a sync was refused, ...)
USAGE = 2  # wrong command line
CONFIG = 3  # the settings file is missing or invalid
UNAVAILABLE = 4  # a device, port or server could not be reached
UNCHANGED = 5  # 'sync --once': the feed had nothing new
SWITCHED_OFF = 6  # a service whose part is switched off in the settings (systemd does not restart it)
INTERRUPTED = 130  # stopped with Ctrl-C

TABLE = (
    (OK, "success (sync --once: new content applied)"),
    (FAILURE, "the command failed"),
    (USAGE, "wrong command line"),
    (CONFIG, "settings file missing or invalid"),
    (UNAVAILABLE, "device, port or server unavailable"),
    (UNCHANGED, "sync --once: nothing new in the feed"),
    (SWITCHED_OFF, "print serve: the printer is switched off in the settings"),
    (INTERRUPTED, "interrupted (Ctrl-C)"),
)
