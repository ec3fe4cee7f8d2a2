"""Question types: one generator per type, in a registry, grouped by family.

``all_tasks()`` lists every type; ``get_task("Q9")`` gives one; ``tasks_of_family("crossview")``
the ids of a family. Each generator proposes candidates from a scene and solves grounded
questions from ground truth (the oracle).
"""

from crossview.tasks.base import (
    Candidate,
    Grounded,
    Option,
    QualityConfig,
    Ref,
    SceneContext,
    TaskGenerator,
    TaskInfo,
    ViewKey,
    all_tasks,
    get_task,
    point_tasks,
    register_task,
    tasks_of_family,
)

__all__ = [
    "Candidate",
    "Grounded",
    "Option",
    "QualityConfig",
    "Ref",
    "SceneContext",
    "TaskGenerator",
    "TaskInfo",
    "ViewKey",
    "all_tasks",
    "get_task",
    "point_tasks",
    "register_task",
    "tasks_of_family",
]
