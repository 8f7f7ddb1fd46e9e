"""The errors the engine raises. Callers catch these, never bare ``Exception``."""


class CosmosReasonError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(CosmosReasonError):
    """A setting is missing, of the wrong type, or out of range."""


class InputError(CosmosReasonError):
    """An input (frame, question, choices) cannot be used."""


class BackendError(CosmosReasonError):
    """The model backend failed to load or to generate."""


class BackendUnavailableError(BackendError):
    """The backend's runtime (library, device, server) is not present here."""


class GenerationCancelled(CosmosReasonError):
    """Generation was cancelled by the caller."""


class GenerationTimeout(BackendError):
    """Generation did not finish within the allowed time."""
