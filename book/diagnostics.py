"""One record for every problem the build finds, printed the way compilers print them.

``chapters/01-life.md:41:7: error: quotation not found in source 'spartacus' [quote.mismatch]``
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Diagnostic:
    severity: str  # "error" or "warning"
    code: str  # stable, dotted: "quote.mismatch", "cite.unknown-key", ...
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    hint: str | None = None  # an extra line shown under the message (e.g. the source's text)

    def location(self) -> str:
        parts = [p for p in (self.file, self.line, self.column) if p is not None]
        return ":".join(str(p) for p in parts)

    def __str__(self) -> str:
        where = self.location()
        text = f"{where}: " if where else ""
        text += f"{self.severity}: {self.message} [{self.code}]"
        if self.hint:
            text += "\n    " + self.hint.replace("\n", "\n    ")
        return text


@dataclass
class Report:
    """Collects diagnostics from every stage; the build fails if any error was collected."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, **where) -> None:
        self.items.append(Diagnostic("error", code, message, **where))

    def warning(self, code: str, message: str, **where) -> None:
        self.items.append(Diagnostic("warning", code, message, **where))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]

    def failed(self, strict: bool = False) -> bool:
        return bool(self.errors or (strict and self.warnings))


class BuildError(Exception):
    """Raised to stop the build; carries the diagnostics that explain why."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        super().__init__("\n".join(str(d) for d in diagnostics))

    @classmethod
    def single(cls, code: str, message: str, **where) -> "BuildError":
        return cls([Diagnostic("error", code, message, **where)])
