"""The start-up heap is frozen out of cyclic collections; later garbage is still collected."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref
from pathlib import Path

from growth.app import freeze_startup_heap

ROOT = Path(__file__).resolve().parents[2]


class _Node:
    pass


def test_startup_heap_is_frozen_and_later_cycles_are_still_collected():
    before = gc.get_freeze_count()
    try:
        kept = [[] for _ in range(100)]  # built "at start-up"
        freeze_startup_heap()
        assert gc.get_freeze_count() >= before + len(kept)
        cycle = _Node()
        cycle.self = cycle  # type: ignore[attr-defined]
        ref = weakref.ref(cycle)
        del cycle
        gc.collect()
        assert ref() is None  # created after the freeze: an ordinary cycle, collected
    finally:
        gc.unfreeze()


def test_the_wsgi_entry_point_freezes_once_the_app_is_built(tmp_path):
    env = {**os.environ, "MASTHEAD_INSTANCE": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    probe = "import gc, wsgi; print(gc.get_freeze_count(), wsgi.app.name)"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert int(out[0]) > 10_000 and out[1] == "masthead"  # modules and the app, left out of collections
