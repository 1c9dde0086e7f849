"""What a person has to do: each area registers a provider; home pages list the tasks."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from portal.people.models import Person


@dataclass(frozen=True)
class Task:
    title: str
    url: str
    #: Short extra words, e.g. "for Amara (Year 1)".
    detail: str = ""
    #: "info", "warning" or "danger" for colour on the home page.
    level: str = "info"
    #: A task the person has as a parent or carer: listed under its own heading for someone who also
    #: works at the school (a teacher whose child is a pupil there).
    as_parent: bool = False


_PROVIDERS: list[Callable[[Person], list[Task]]] = []


def task_provider(func: Callable[[Person], list[Task]]) -> Callable[[Person], list[Task]]:
    """Register *func* (person -> list of tasks)."""
    if func not in _PROVIDERS:
        _PROVIDERS.append(func)
    return func


def tasks_for(person: Person) -> list[Task]:
    out: list[Task] = []
    for provider in _PROVIDERS:
        out.extend(provider(person))
    return out
