"""The run's side of the engine: everything here happens in the warm process or in a run forked
from it, never in the server (the one exception: the server tries the kernel's walls in throwaway
processes with `confine.probe`).

- `warm`: the warm process, set up once, forking one run per request (`python -m
  lessons.engine.child`, started by lessons.engine.warm_process);
- `sandbox`: the inside of one run: its watcher, its limits, its audit hook, its reply;
- `confine`, with `landlock` and `syscalls`: the kernel's walls around a run;
- `runner`, with `capture` and `tamper`: running a snippet, recording what it does, and noticing
  when it patches the recording; `plans`: the plan of a statement (EXPLAIN).

What the server asks and what a run answers is lessons.engine.contract, the one module of the
engine this side imports.
"""
