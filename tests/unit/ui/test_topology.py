"""The server-side layout of a flow's graph: one node per task, lists top to bottom, the
branches of flowable tasks side by side inside their group, nothing overlapping; and the line
diff of the revisions page."""

from __future__ import annotations

from itertools import combinations, pairwise

from perch.flows import parse_flow
from perch.ui.linediff import line_diff
from perch.ui.topology import GAP_Y, NODE_H, NODE_W, Graph, Group, Node, layout, short_type

EVERYTHING = """\
id: everything
namespace: company.team
tasks:
  - id: start
    type: io.kestra.plugin.core.log.Log
    message: go
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{ true }}"
    then:
      - id: yes
        type: io.kestra.plugin.core.log.Log
        message: y
    else:
      - id: fan
        type: io.kestra.plugin.core.flow.Parallel
        tasks:
          - id: p1
            type: io.kestra.plugin.core.log.Log
            message: a
          - id: p2
            type: io.kestra.plugin.core.log.Log
            message: b
          - id: p3
            type: io.kestra.plugin.core.log.Log
            message: c
  - id: route
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ 'a' }}"
    cases:
      a:
        - id: case_a
          type: io.kestra.plugin.core.log.Log
          message: a
      b:
        - id: case_b
          type: io.kestra.plugin.core.log.Log
          message: b
    defaults:
      - id: fallback
        type: io.kestra.plugin.core.log.Log
        message: d
  - id: loop
    type: io.kestra.plugin.core.flow.ForEach
    values: [1, 2]
    tasks:
      - id: inside
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: step1
            type: io.kestra.plugin.core.log.Log
            message: one
          - id: step2
            type: io.kestra.plugin.core.log.Log
            message: two
        errors:
          - id: step_failed
            type: io.kestra.plugin.core.log.Log
            message: oops
  - id: a_task_id_that_is_far_too_long_to_fit_in_its_box
    type: io.kestra.plugin.core.log.Log
    message: end
errors:
  - id: on_error
    type: io.kestra.plugin.core.log.Log
    message: failed
finally:
  - id: always
    type: io.kestra.plugin.core.log.Log
    message: done
"""


def _graph() -> Graph:
    return layout(parse_flow(EVERYTHING))


def _by_id(graph: Graph) -> dict[str, Node]:
    return {n.task_id: n for n in graph.nodes}


def _groups(graph: Graph) -> dict[str, Group]:
    return {g.title: g for g in graph.groups}


def _inside(node: Node, group: Group) -> bool:
    return (
        group.x <= node.x
        and node.x + node.width <= group.x + group.width
        and group.y <= node.y
        and node.y + node.height <= group.y + group.height
    )


def _overlap(a: Node, b: Node) -> bool:
    return not (
        a.x + a.width <= b.x
        or b.x + b.width <= a.x
        or a.y + a.height <= b.y
        or b.y + b.height <= a.y
    )


def test_every_task_is_one_node_and_no_two_nodes_overlap() -> None:
    graph = _graph()
    flow = parse_flow(EVERYTHING)
    assert sorted(n.task_id for n in graph.nodes) == sorted(t.id for t in flow.all_tasks())
    for a, b in combinations(graph.nodes, 2):
        assert not _overlap(a, b), (a.task_id, b.task_id)
    for node in graph.nodes:
        assert node.width == NODE_W
        assert node.height == NODE_H
        assert node.x >= 0
        assert node.x + node.width <= graph.width
        assert node.y >= 0
        assert node.y + node.height <= graph.height


def test_tasks_of_a_list_go_top_to_bottom_joined_by_edges() -> None:
    graph = _graph()
    nodes = _by_id(graph)
    order = ["start", "check", "route", "loop", "a_task_id_that_is_far_too_long_to_fit_in_its_box"]
    tops = [nodes[t].y for t in order]
    assert tops == sorted(tops)
    pairs = {(e.source, e.target) for e in graph.edges}
    for before, after in pairwise(order):
        assert (before, after) in pairs
    # An edge leaving a group starts below the whole group, not below its head node.
    groups = _groups(graph)
    edge = next(e for e in graph.edges if (e.source, e.target) == ("check", "route"))
    start_y = float(edge.d.split()[0].split(",")[1])
    assert start_y == groups["check"].y + groups["check"].height
    assert nodes["route"].y - start_y == GAP_Y + 12  # the gap, then the group's padding


def test_branches_sit_side_by_side_inside_their_group() -> None:
    graph = _graph()
    nodes, groups = _by_id(graph), _groups(graph)
    for child in ("yes", "fan", "p1", "p2", "p3"):
        assert _inside(nodes[child], groups["check"]), child
    assert nodes["yes"].x + NODE_W <= nodes["fan"].x  # then, else
    # each task of a Parallel is a branch of its own, on one row
    assert nodes["p1"].y == nodes["p2"].y == nodes["p3"].y
    assert nodes["p1"].x < nodes["p2"].x < nodes["p3"].x
    assert {(e.source, e.target) for e in graph.edges} >= {
        ("check", "yes"),
        ("check", "fan"),
        ("fan", "p1"),
        ("fan", "p2"),
        ("fan", "p3"),
        ("route", "case_a"),
        ("route", "case_b"),
        ("route", "fallback"),
        ("loop", "inside"),
        ("inside", "step1"),
        ("step1", "step2"),
        ("inside", "step_failed"),
    }
    assert nodes["case_a"].y == nodes["case_b"].y == nodes["fallback"].y
    assert nodes["step1"].y < nodes["step2"].y
    assert nodes["step1"].x < nodes["step_failed"].x
    labels = {label.text for label in graph.labels}
    assert {"then", "else", "case a", "case b", "defaults", "tasks", "errors", "finally"} <= labels
    # the head node is at the top of its group, centred
    head, box = nodes["check"], groups["check"]
    assert head.y < min(nodes[c].y for c in ("yes", "fan"))
    assert head.x + NODE_W / 2 == box.x + box.width / 2


def test_the_flows_errors_and_finally_are_sections_below_its_tasks() -> None:
    graph = _graph()
    nodes, groups = _by_id(graph), _groups(graph)
    last = nodes["a_task_id_that_is_far_too_long_to_fit_in_its_box"]
    assert groups["errors"].section
    assert groups["finally"].section
    assert last.y + NODE_H < groups["errors"].y < groups["finally"].y
    assert _inside(nodes["on_error"], groups["errors"])
    assert _inside(nodes["always"], groups["finally"])
    assert not any("on_error" in (e.source, e.target) for e in graph.edges)


def test_nodes_name_their_task_and_type_briefly_with_the_full_title() -> None:
    nodes = _by_id(_graph())
    long = nodes["a_task_id_that_is_far_too_long_to_fit_in_its_box"]
    assert long.label.endswith("…")
    assert len(long.label) <= 22
    assert long.title == (
        "Task a_task_id_that_is_far_too_long_to_fit_in_its_box, type io.kestra.plugin.core.log.Log"
    )
    assert nodes["check"].short_type == "If"
    assert nodes["check"].flowable
    assert not nodes["start"].flowable
    assert short_type("io.kestra.plugin.scripts.shell.Commands") == "shell.Commands"
    assert short_type("io.kestra.plugin.core.flow.Parallel") == "Parallel"


def test_the_outline_says_the_same_as_the_drawing() -> None:
    lines = [("  " * o.depth) + o.text for o in _graph().outline]
    assert lines[:8] == [
        "start (Log)",
        "check (If)",
        "  then:",
        "    yes (Log)",
        "  else:",
        "    fan (Parallel)",
        "      p1 (Log)",
        "      p2 (Log)",
    ]
    assert "errors:" in lines
    assert "  on_error (Log)" in lines


def test_a_single_task_flow() -> None:
    graph = layout(
        parse_flow(
            "id: one\nnamespace: a\ntasks:\n  - id: only\n"
            "    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
        )
    )
    assert [n.task_id for n in graph.nodes] == ["only"]
    assert graph.edges == ()
    assert graph.groups == ()
    assert graph.width == NODE_W + 24
    assert graph.height == NODE_H + 24


def test_a_line_diff_marks_removed_and_added_lines_with_their_numbers() -> None:
    left = "\n".join(f"line {n}" for n in range(1, 21))
    right = left.replace("line 10", "line ten").replace("line 20", "line 20\nline 21")
    diff = line_diff(left, right)
    assert (diff.added, diff.removed) == (2, 1)
    assert len(diff.hunks) == 2
    first = diff.hunks[0].rows
    changed = [(r.change, r.left, r.right, r.text, r.sign) for r in first if r.change != "same"]
    assert changed == [("removed", 10, None, "line 10", "-"), ("added", None, 10, "line ten", "+")]
    assert [r.left for r in first if r.change == "same"] == [7, 8, 9, 11, 12, 13]
    assert diff.hunks[1].rows[-1] == diff.hunks[1].rows[-1].__class__("added", None, 21, "line 21")
    assert line_diff(left, left).hunks == ()


DAG_AND_ITEMS = """\
id: graphs
namespace: company.team
inputs:
  - id: file
    type: FILE
tasks:
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task:
          id: first
          type: io.kestra.plugin.core.log.Log
          message: a
      - task:
          id: second
          type: io.kestra.plugin.core.log.Log
          message: b
        dependsOn: [first]
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{ inputs.file }}"
    namespace: company.team
    flowId: child
"""


def test_a_dag_and_a_foreachitem_are_drawn_with_their_tasks() -> None:
    graph = layout(parse_flow(DAG_AND_ITEMS))
    ids = {node.task_id for node in graph.nodes}
    assert {"dag", "first", "second", "each", "each_split", "each_items", "each_merge"} <= ids
    assert any(label.text == "after first" for label in graph.labels)


WORKING_DIRECTORY = """\
id: shared
namespace: company.team
tasks:
  - id: wdir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    inputFiles:
      a.txt: hello
    outputFiles: ["*.txt"]
    tasks:
      - id: one
        type: io.kestra.plugin.scripts.shell.Commands
        commands: ["cat a.txt"]
      - id: two
        type: io.kestra.plugin.core.log.Log
        message: b
"""


def test_a_working_directory_is_drawn_with_its_file_tasks_around_its_tasks() -> None:
    graph = layout(parse_flow(WORKING_DIRECTORY))
    ys = {node.task_id: node.y for node in graph.nodes}
    assert set(ys) == {"wdir", "wdir_inputFiles", "one", "two", "wdir_outputFiles"}
    assert ys["wdir_inputFiles"] < ys["one"] < ys["two"] < ys["wdir_outputFiles"]
