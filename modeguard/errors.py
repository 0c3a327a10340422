"""User-facing errors. The CLI prints these as one line and exits with status 2."""


class ModeGuardError(Exception):
    """Bad input or an unrecoverable run state that the user can act on."""


class ConfigError(ModeGuardError):
    """A config value, strategy or option is unknown, of the wrong type or out of range."""


class DataError(ModeGuardError):
    """A data set is unknown, missing, corrupt or malformed."""


class CheckpointError(ModeGuardError):
    """A checkpoint or run directory is unreadable, truncated or incompatible."""


class DivergenceError(ModeGuardError):
    """Training produced non-finite losses; the last good checkpoint is kept."""
