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


class FrameError(InputError):
    """A camera frame that cannot be used, and which kind of problem it has.

    Attributes:
        cause: For counters and diagnostics: ``stamp`` (zero or far-future ``header.stamp``),
            ``encoding`` (an encoding or compressed format this package does not decode),
            ``corrupt`` (data that does not decode, or contradicts its own header),
            ``too_large`` (over a pixel or byte ceiling), ``malformed`` (fields that make no
            image: zero size, a short ``step``, data of the wrong type).
    """

    CAUSES = ("stamp", "encoding", "corrupt", "too_large", "malformed")

    def __init__(self, message: str, cause: str = "malformed") -> None:
        super().__init__(message)
        self.cause = cause if cause in self.CAUSES else "malformed"
