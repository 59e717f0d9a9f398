"""The layered index a transition forks instead of copying (perch.engine.overlay)."""

from __future__ import annotations

from perch.engine.overlay import Overlay


def test_a_fork_shares_the_base_and_keeps_its_own_writes() -> None:
    base = Overlay({f"run{i}": i for i in range(10_000)})
    first = base.fork()
    first["new"] = 10_000
    first["run3"] = 33
    second = base.fork()
    assert "new" in first
    assert "new" not in second
    assert first["run3"] == 33
    assert second["run3"] == 3
    assert base["run3"] == 3
    assert len(first) == 10_001
    assert len(second) == 10_000
    assert list(first)[-1] == "new"
    assert sorted(first) == sorted([*base, "new"])
    assert first.get("absent") is None
    assert first.get("new") == 10_000


def test_a_long_chain_of_forks_folds_its_top_layer() -> None:
    current = Overlay({i: i for i in range(400)})
    for i in range(400, 2_400):
        current = current.fork()
        current[i] = i
        # The top layer never grows past the square root of the base (plus a constant).
        assert len(current._top) <= 33 + int(len(current._base) ** 0.5)
    assert len(current) == 2_400
    assert all(current[i] == i for i in range(2_400))
