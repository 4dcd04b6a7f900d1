"""Domain errors. Each edge (UI, REST API, OCPP) turns them into its own shape once."""

from __future__ import annotations


class ConsoleError(Exception):
    """Base of every error the core raises on purpose."""

    code = "ERROR"


class NotFound(ConsoleError):
    code = "NOT_FOUND"


class Conflict(ConsoleError):
    code = "CONFLICT"


class Unavailable(ConsoleError):
    """The operation cannot run now (charger offline, no runtime, read-only)."""

    code = "UNAVAILABLE"


class ValidationFailed(ConsoleError):
    """One or more fields are bad; `problems` maps a field name to what is wrong with it."""

    code = "VALIDATION_ERROR"

    def __init__(self, problems: dict[str, str], subject: str | None = None) -> None:
        self.problems = dict(problems)
        self.subject = subject
        where = f"{subject}: " if subject else ""
        detail = "; ".join(f"{field}: {message}" for field, message in self.problems.items())
        super().__init__(f"{where}{detail}")


class CommandRefused(ConsoleError):
    """A command the action engine will not take; `code` is the seed-style error name.

    `field` is the part of the request refused, in the request's words ("start", "end",
    "execution", "onConflict", "parameters.powerLimit"...); None when it is the command as a whole.
    """

    def __init__(self, code: str, message: str, conflicting: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.conflicting = conflicting
        self.field = field


class ImportRefused(ConsoleError):
    """A fleet or token file was refused whole; `problems` lists (subject, field, message)."""

    code = "IMPORT_REFUSED"

    def __init__(self, problems: list[tuple[str, str, str]], what: str = "fleet file") -> None:
        self.problems = problems
        lines = [f"  {subject}: {field}: {message}" for subject, field, message in problems]
        super().__init__(
            f"{what} refused, nothing imported ({len(problems)} problem"
            f"{'s' if len(problems) != 1 else ''}):\n" + "\n".join(lines)
        )


class StoreUnavailable(Unavailable):
    """The store cannot take writes now (locked, read-only, full, unreachable); `reason` says why.

    What was acknowledged is kept and retried; what must be durable before it is
    answered is refused, so the charger or the operator tries again.
    """

    code = "STORE_UNAVAILABLE"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"the store cannot take writes now: {reason}")
