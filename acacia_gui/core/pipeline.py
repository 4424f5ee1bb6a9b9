"""Pipelines: checking a job's dependencies and unique key, and ordering a batch whose jobs
run after each other (`ref` names a job of the batch, `after` names refs and existing ids).

Pure Python: the store writes a batch in dependency_order, so every dependency exists
before its dependent and gets the smaller id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .definitions import MAX_DEPENDENCIES, MAX_UNIQUE_KEY_CHARS, AfterPolicy, OnConflict
from .errors import InvalidOptionError
from .job import Job

MAX_REF_CHARS = 200


def validate_links(job: Job) -> None:
    """A job's after / after_policy / unique_key / on_conflict, as enqueue accepts them."""
    after = job.after
    if not isinstance(after, list) or len(after) > MAX_DEPENDENCIES:
        raise InvalidOptionError(f"after must be a list of at most {MAX_DEPENDENCIES} job ids")
    for dep in after:
        if isinstance(dep, Job):
            if dep is job:
                raise InvalidOptionError("a job cannot run after itself")
            continue
        if isinstance(dep, bool) or not isinstance(dep, int) or dep < 1:
            raise InvalidOptionError(f"after must hold job ids (whole numbers from 1), got {dep!r:.40}")
    job.after = list(dict.fromkeys(after))
    if job.after_policy not in AfterPolicy.__members__.values():
        raise InvalidOptionError(f"after_policy must be one of {', '.join(AfterPolicy)}, got {job.after_policy!r:.40}")
    job.after_policy = AfterPolicy(job.after_policy).value
    key = job.unique_key
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= MAX_UNIQUE_KEY_CHARS):
        raise InvalidOptionError(f"unique_key must be text of 1 to {MAX_UNIQUE_KEY_CHARS} characters, got {key!r:.40}")
    if job.on_conflict not in OnConflict.__members__.values():
        raise InvalidOptionError(f"on_conflict must be one of {', '.join(OnConflict)}, got {job.on_conflict!r:.40}")
    job.on_conflict = OnConflict(job.on_conflict).value


def dependency_order(jobs: Sequence[Job]) -> list[int]:
    """Indexes of `jobs` with every job after the batch jobs it depends on (otherwise in
    batch order). Raises InvalidOptionError naming a cycle, or a dependency on a job that is
    neither in the batch nor enqueued."""
    index_of = {id(job): index for index, job in enumerate(jobs)}
    order: list[int] = []
    state = [0] * len(jobs)  # 0: not visited, 1: on the current path, 2: placed
    for root in range(len(jobs)):
        if state[root]:
            continue
        stack: list[tuple[int, int]] = [(root, 0)]
        path = [root]
        state[root] = 1
        while stack:
            index, next_dep = stack[-1]
            deps = [d for d in jobs[index].after if isinstance(d, Job)]
            if next_dep < len(deps):
                stack[-1] = (index, next_dep + 1)
                dep = index_of.get(id(deps[next_dep]))
                if dep is None:
                    if deps[next_dep].id is None:
                        raise InvalidOptionError(f"jobs[{index}] runs after a job that is not enqueued nor in this batch")
                    continue
                if state[dep] == 1:
                    cycle = [*path[path.index(dep):], dep]
                    raise InvalidOptionError(f"jobs[{cycle[0]}]: its dependencies form a cycle: "
                                             + " → ".join(f"jobs[{i}]" for i in cycle))  # fmt: skip
                if state[dep] == 0:
                    state[dep] = 1
                    stack.append((dep, 0))
                    path.append(dep)
                continue
            stack.pop()
            path.pop()
            state[index] = 2
            order.append(index)
    return order


def link_batch(entries: Sequence[dict[str, Any]], jobs: Sequence[Job]) -> None:
    """Resolve a batch's refs: entry i's "ref" names jobs[i]; a string in an "after" list is
    a ref (of any line, before or after it), a number an enqueued job's id. Sets each job's
    `after`. Raises InvalidOptionError naming the line (`jobs[i]`) and the ref."""
    refs: dict[str, int] = {}
    for index, entry in enumerate(entries):
        ref = entry.get("ref")
        if ref is None:
            continue
        if not isinstance(ref, str) or not 1 <= len(ref) <= MAX_REF_CHARS:
            raise InvalidOptionError(f"jobs[{index}]: ref must be text of 1 to {MAX_REF_CHARS} characters")
        if ref in refs:
            raise InvalidOptionError(f"jobs[{index}]: ref {ref!r} is already jobs[{refs[ref]}]'s")
        refs[ref] = index
    for index, entry in enumerate(entries):
        after = entry.get("after")
        if after is None:
            continue
        if not isinstance(after, list):
            raise InvalidOptionError(f"jobs[{index}]: after must be a list of refs and job ids")
        resolved: list[Any] = []
        for dep in after:
            if isinstance(dep, str):
                if dep not in refs:
                    raise InvalidOptionError(f"jobs[{index}]: after names ref {dep!r:.60}, which no line of the batch has")
                resolved.append(jobs[refs[dep]])
            else:
                resolved.append(dep)
        jobs[index].after = resolved
