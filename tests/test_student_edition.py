"""scripts/make_student_edition.py: the exercise convention and the student edition it writes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
sys.path.insert(0, str(ROOT / "scripts"))
import make_student_edition as edition  # noqa: E402

PLACEHOLDER = 'raise NotImplementedError("Exercise: write this part, then run the check below.")'


def code(source, tags=(), outputs=None, count=None):
    metadata = {"tags": list(tags)} if tags else {}
    return {"cell_type": "code", "execution_count": count, "metadata": metadata, "outputs": outputs or [], "source": source}


def markdown(source):
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def printed(text):
    return [{"name": "stdout", "output_type": "stream", "text": [text]}]


SOLUTION = '''\
def square(x):
    """x squared."""
    # BEGIN SOLUTION
    result = x * x
    return result
    # END SOLUTION


class Cube:
    def __call__(self, x):
        # BEGIN SOLUTION
        return x ** 3
        # END SOLUTION
'''

STUDENT = f'''\
def square(x):
    """x squared."""
    # your code here
    {PLACEHOLDER}


class Cube:
    def __call__(self, x):
        # your code here
        {PLACEHOLDER}
'''

PROMPT = "### Exercise (write it yourself): the square and the cube\n\nWrite `square` and `Cube`."


def demo_notebook():
    """Cells: 1 title, 2 code with an output, 3 exercise, 4 solution, 5 check, 6 a later cell."""
    return {
        "cells": [
            markdown("# A demo"),
            code("import math\nvalue = 2.0\nprint(value)", outputs=printed("2.0\n"), count=1),
            markdown(PROMPT),
            code(SOLUTION, ["solution"], outputs=printed("defined\n"), count=2),
            code("assert square(3) == 9\nassert Cube()(2) == 8\nprint('square and Cube: correct')", ["exercise-check"],
                 outputs=printed("square and Cube: correct\n"), count=3),
            code("print(round(math.sqrt(value), 3))", outputs=printed("1.414\n"), count=4),
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 4,
    }


def top_level_notebook():
    """An exercise whose region is at the top level of its cell: the solution cell itself raises."""
    notebook = demo_notebook()
    notebook["cells"] = [
        markdown("### Exercise (write it yourself): a total"),
        code("numbers = [1, 2, 3]\n# BEGIN SOLUTION\ntotal = sum(numbers)\n# END SOLUTION", ["solution"]),
        code("assert total == 6\nprint('total: correct')", ["exercise-check"]),
        code("print(len(numbers))"),
    ]
    return notebook


def write_notebooks(folder, **notebooks):
    folder.mkdir(parents=True, exist_ok=True)
    for name, notebook in notebooks.items():
        (folder / f"{name}.ipynb").write_text(json.dumps(notebook, indent=1) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def sources(tmp_path):
    """(notebooks folder with two synthetic notebooks, a small helpers folder)."""
    notebooks = write_notebooks(tmp_path / "repo" / "notebooks", **{"01_demo": demo_notebook(), "02_total": top_level_notebook()})
    helpers = tmp_path / "repo" / "helpers"
    (helpers / "__pycache__").mkdir(parents=True)
    (helpers / "__init__.py").write_text("PROJECT = 'demo'\n")
    (helpers / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"stale")
    return notebooks, helpers


def test_regions_are_replaced_at_the_markers_indentation():
    student = edition.student_source(SOLUTION)
    assert student == STUDENT
    compile(student, "student", "exec")
    namespace = {}
    exec(student, namespace)
    with pytest.raises(NotImplementedError, match="write this part"):
        namespace["square"](3)
    with pytest.raises(NotImplementedError):
        namespace["Cube"]()(2)


def test_a_top_level_region_becomes_a_top_level_raise():
    source = top_level_notebook()["cells"][1]["source"]
    assert edition.student_source(source) == f"numbers = [1, 2, 3]\n# your code here\n{PLACEHOLDER}"


def test_the_edition_removes_solutions_and_keeps_everything_else(sources, tmp_path):
    notebooks, helpers = sources
    out = tmp_path / "handout"
    found = edition.write_edition(out, notebooks, helpers)
    assert {name: len(exercises) for name, exercises in found.items()} == {"01_demo.ipynb": 1, "02_total.ipynb": 1}
    original = demo_notebook()
    student = json.loads((out / "student" / "notebooks" / "01_demo.ipynb").read_text(encoding="utf-8"))
    assert "".join(student["cells"][3]["source"]) == STUDENT
    assert "x * x" not in json.dumps(student) and "x ** 3" not in json.dumps(student)
    assert student["cells"][3]["metadata"]["tags"] == ["solution", "raises-exception"]
    assert student["cells"][4]["metadata"]["tags"] == ["exercise-check", "raises-exception"]
    for index in (3, 4):
        assert student["cells"][index]["outputs"] == [] and student["cells"][index]["execution_count"] is None
    assert student["cells"][4]["source"] == original["cells"][4]["source"]
    for index in (0, 1, 2, 5):  # the exercise cell and the others, outputs included, as they were
        assert student["cells"][index] == original["cells"][index]
    assert student["metadata"] == original["metadata"]

    solutions = (out / "SOLUTIONS.md").read_text(encoding="utf-8")
    assert "## 01_demo.ipynb" in solutions and "## 02_total.ipynb" in solutions
    assert "### 1. Exercise (write it yourself): the square and the cube" in solutions
    assert f"```python\n{SOLUTION.rstrip()}\n```" in solutions
    assert "total = sum(numbers)" in solutions
    assert (out / "student" / "helpers" / "__init__.py").read_text() == "PROJECT = 'demo'\n"
    assert not (out / "student" / "helpers" / "__pycache__").exists()
    handed_out = [path for path in (out / "student").rglob("*") if path.is_file()]
    assert not any("x * x" in path.read_text(encoding="utf-8", errors="ignore") for path in handed_out)  # solutions stay with the teacher
    assert sorted(path.name for path in tmp_path.iterdir()) == ["handout", "repo"]  # no temporary folder left


def test_a_second_run_replaces_the_edition(sources, tmp_path):
    notebooks, helpers = sources
    out = tmp_path / "handout"
    edition.write_edition(out, notebooks, helpers)
    # (A file the script did not write is refused, not deleted: test_a_rewrite_refuses_and_names_what_the_script_did_not_write.)
    (notebooks / "02_total.ipynb").unlink()
    edition.write_edition(out, notebooks, helpers)
    assert sorted(path.name for path in (out / "student" / "notebooks").iterdir()) == ["01_demo.ipynb"]
    assert "02_total" not in (out / "SOLUTIONS.md").read_text()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["handout", "repo"]


def _replace(index, source=None, tags=None):
    def change(cells):
        if source is not None:
            cells[index]["source"] = source
        if tags is not None:
            cells[index]["metadata"] = {"tags": tags}
    return change


BREAKS = {
    "no markers": (_replace(3, "def square(x):\n    return x * x\n"), 4, "has no '# BEGIN SOLUTION'"),
    "never closed": (_replace(3, "def square(x):\n    # BEGIN SOLUTION\n    return x * x\n"), 4, "never closed"),
    "closed, not opened": (_replace(3, "def square(x):\n    return x * x\n    # END SOLUTION\n"), 4, "that no '# BEGIN SOLUTION'"),
    "nested": (_replace(3, "# BEGIN SOLUTION\n# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n# END SOLUTION\n"), 4, "inside the one opened on line 1"),
    "misspelt marker": (_replace(3, "def square(x):\n    #BEGIN SOLUTION\n    return x * x\n    # END SOLUTION\n"), 4, "looks like a solution marker"),
    "markers indented differently": (_replace(3, "def square(x):\n    # BEGIN SOLUTION\n    return x * x\n# END SOLUTION\n"), 4, "indented differently"),
    "empty region": (_replace(3, "def square(x):\n    # BEGIN SOLUTION\n    # END SOLUTION\n"), 4, "holds no code"),
    "code less indented": (_replace(3, "if True:\n    # BEGIN SOLUTION\n    x = 1\ny = 2\n    # END SOLUTION\n"), 4, "indented less than its markers"),
    "invalid without the solution": (_replace(3, "if True:\n# BEGIN SOLUTION\n    x = 1\n# END SOLUTION\n"), 4, "not valid Python"),
    "markers outside a solution cell": (_replace(1, "# BEGIN SOLUTION\nvalue = 2.0\n# END SOLUTION"), 2, "not tagged 'solution'"),
    "check without a solution before it": (_replace(5, tags=["exercise-check"]), 6, "check cell not preceded"),
    "solution without a check after it": (_replace(4, tags=[]), 4, "not followed by a code cell tagged 'exercise-check'"),
    "solution without an exercise cell": (_replace(2, "### Exercise: the square"), 4, "not preceded by a markdown cell"),
    "exercise cell without a solution": (_replace(3, tags=[]), 3, "not followed by a code cell tagged 'solution'"),
    "a later cell uses a name after the placeholder": (
        lambda cells: [
            _replace(3, "# BEGIN SOLUTION\nroot = value ** 0.5\n# END SOLUTION\nsquare = root ** 2\n")(cells),
            _replace(5, "print(square)")(cells),
        ],
        6,
        "uses 'square'",
    ),
    "a later cell uses the solution's function": (_replace(5, "print(square(2))"), 6, "uses 'square' from the solution cell (01_demo.ipynb, cell 4)"),
}


@pytest.mark.parametrize("name", BREAKS)
def test_a_break_of_the_convention_names_notebook_and_cell(name, sources, tmp_path):
    notebooks, helpers = sources
    change, cell, message = BREAKS[name]
    notebook = demo_notebook()
    change(notebook["cells"])
    write_notebooks(notebooks, **{"01_demo": notebook})
    with pytest.raises(edition.ConventionError) as error:
        edition.write_edition(tmp_path / "handout", notebooks, helpers)
    assert f"01_demo.ipynb, cell {cell}:" in str(error.value)
    assert message in str(error.value)
    assert not (tmp_path / "handout").exists()


def test_a_later_cell_may_use_a_name_it_defines_again(sources):
    notebook = demo_notebook()
    notebook["cells"][5]["source"] = "def square(x):\n    return x ** 2\n\nprint(square(2))"
    notebook["cells"].append(code("print(square(3))"))
    assert len(edition.find_exercises(notebook, "01_demo.ipynb")) == 1


def test_a_later_cell_may_use_what_the_solution_cell_defines_before_its_region():
    notebook = top_level_notebook()  # its last cell reads `numbers`, defined above the region
    assert len(edition.find_exercises(notebook, "02_total.ipynb")) == 1


def test_refused_destinations(sources, tmp_path):
    notebooks, helpers = sources
    for out, message in (
        (notebooks / "student", "lies inside"),
        (notebooks.parent, "writing the edition would replace"),
    ):
        with pytest.raises(edition.DestinationError, match=message):
            edition.write_edition(out, notebooks, helpers)
    someone_elses = tmp_path / "thesis"
    someone_elses.mkdir()
    (someone_elses / "chapter1.tex").write_text("keep me")
    with pytest.raises(edition.DestinationError, match="not an earlier student edition"):
        edition.write_edition(someone_elses, notebooks, helpers)
    assert (someone_elses / "chapter1.tex").read_text() == "keep me"
    assert not (notebooks / "student").exists()


def test_command_line(sources, tmp_path):
    notebooks, _ = sources
    script = [sys.executable, str(ROOT / "scripts" / "make_student_edition.py"), "--notebooks", str(notebooks)]
    checked = subprocess.run(script + ["--check"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert "01_demo.ipynb: 1 exercise\n02_total.ipynb: 1 exercise" in checked.stdout
    broken = demo_notebook()
    broken["cells"][3]["source"] = "def square(x):\n    return x * x\n"
    write_notebooks(notebooks, **{"01_demo": broken})
    refused = subprocess.run(script + ["--out", str(tmp_path / "handout")], capture_output=True, text=True)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: 01_demo.ipynb, cell 4:")
    assert not (tmp_path / "handout").exists()


def _executed(path, timeout=600):
    """The notebook at `path` executed by nbclient in its folder (smoke mode: conftest.py sets
    CCT_SMOKE=1 in this process, which the kernel inherits); a cell's error that is not allowed
    by its `raises-exception` tag fails the test."""
    import nbclient
    import nbformat

    assert os.environ.get("CCT_SMOKE") == "1"
    notebook = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(notebook, timeout=timeout, resources={"metadata": {"path": str(path.parent)}}).execute()
    return notebook


def _errors(cell):
    return [output["ename"] for output in cell.get("outputs", []) if output["output_type"] == "error"]


def test_the_student_edition_runs_on_past_unsolved_exercises(sources, tmp_path):
    notebooks, helpers = sources
    out = tmp_path / "handout"
    edition.write_edition(out, notebooks, helpers)
    demo = _executed(out / "student" / "notebooks" / "01_demo.ipynb", timeout=60)
    assert _errors(demo.cells[3]) == [] and _errors(demo.cells[4]) == ["NotImplementedError"]
    assert "".join(output["text"] for output in demo.cells[5].outputs) == "1.414\n"
    total = _executed(out / "student" / "notebooks" / "02_total.ipynb", timeout=60)
    assert _errors(total.cells[1]) == ["NotImplementedError"] and _errors(total.cells[2]) == ["NameError"]
    assert "".join(output["text"] for output in total.cells[3].outputs) == "3\n"


def test_the_notebooks_follow_the_exercise_convention():
    found = edition.check_convention()
    assert sorted(found) == [path.name for path in NOTEBOOKS]


def test_every_notebook_has_an_exercise():
    found = edition.check_convention()
    assert not [name for name, exercises in found.items() if not exercises], "notebooks without an exercise"


def cells_to_run(notebook, exercises):
    """Indices of the cells that running the exercises needs, in order: the set-up and settings
    cells, each exercise's solution and check cells, and, found backwards, every earlier code
    cell that binds a name they (or a cell already taken) read before binding it. Reading is
    counted generously (function bodies included): a cell too many costs time, a cell too few
    makes the check fail on a NameError instead of NotImplementedError."""
    import ast

    def names(cell):
        """(names the cell reads before it binds them, names it binds)."""
        read, bound = set(), set()
        for statement in ast.parse(edition._python(edition._source(cell))).body:
            local = set()  # loop variables and arguments: bound where they are read
            for node in ast.walk(statement):
                if isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
                    local |= {name.id for name in ast.walk(node.target) if isinstance(name, ast.Name)}
                elif isinstance(node, ast.arg):
                    local.add(node.arg)
            loads = {node.id for node in ast.walk(statement) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
            read |= loads - bound - local
            bound |= edition._bound_by(statement)
        return read, bound

    cells = notebook["cells"]
    code = [index for index, cell in enumerate(cells) if cell["cell_type"] == "code"]
    settings = next(index for index in code if "notebook_settings()" in edition._source(cells[index]))
    chosen = {code[0], settings}
    for exercise in exercises:
        wanted = set()
        for index in (exercise.check, exercise.solution):
            read, bound = names(cells[index])
            wanted = (wanted - bound) | read
        chosen |= {exercise.solution, exercise.check}
        for index in reversed([index for index in code if index < exercise.prompt]):
            read, bound = names(cells[index])
            if bound & wanted:
                chosen.add(index)
                wanted = (wanted - bound) | read
    return sorted(chosen)


def test_cells_to_run_follow_the_names():
    notebook = demo_notebook()
    notebook["cells"][1:1] = [
        code("# Set-up\nimport sys"),
        code("settings = notebook_settings()"),
        code("unused = 1"),
        code("offset = 3"),
        code("def shift(x):\n    return x + offset"),
    ]
    notebook["cells"][9]["source"] = "assert square(shift(0)) == 9\nprint(value)"  # the check
    exercises = edition.find_exercises(notebook, "demo.ipynb")
    assert cells_to_run(notebook, exercises) == [1, 2, 4, 5, 6, 8, 9]


@pytest.fixture(scope="module")
def executed_exercises(tmp_path_factory):
    """Writes the student edition of the notebooks and runs, in smoke mode, the exercises of
    each with the cells they need (cells_to_run), one notebook after the other in one kernel,
    its namespace emptied between notebooks (`%reset -f`): the set-up's imports, the most of
    the time, happen once. Returns {notebook: [(exercise, executed solution cell, executed
    check cell)]}."""
    out = tmp_path_factory.mktemp("student") / "edition"
    found = edition.write_edition(out)
    combined, where = None, {}
    for name, exercises in found.items():
        notebook = json.loads((out / "student" / "notebooks" / name).read_text(encoding="utf-8"))
        if combined is None:
            combined = dict(notebook, cells=[])
        combined["cells"].append(code("%reset -f"))
        offset = len(combined["cells"])
        chosen = cells_to_run(notebook, exercises)
        combined["cells"] += [notebook["cells"][index] for index in chosen]
        where[name] = [(exercise, offset + chosen.index(exercise.solution), offset + chosen.index(exercise.check)) for exercise in exercises]
    path = out / "student" / "notebooks" / "exercises-only.ipynb"  # beside the others: the set-up cell finds ../helpers
    path.write_text(json.dumps(combined), encoding="utf-8")
    executed = _executed(path)
    return {
        name: [(exercise, executed.cells[solution], executed.cells[check]) for exercise, solution, check in runs]
        for name, runs in where.items()
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_the_exercises_of_each_student_notebook_run_in_smoke_mode(path, executed_exercises):
    """Unsolved, each exercise's check fails on the placeholder. The cells not run are unchanged
    from the notebook, which the suite runs whole in smoke mode, and find_exercises has checked
    that none of them reads a name the student edition's solution cells leave undefined."""
    if not executed_exercises[path.name]:
        pytest.skip(f"{path.name} has no exercise yet")
    for exercise, solution, check in executed_exercises[path.name]:
        # Unsolved, the check fails on the placeholder: raised there, or in the solution cell
        # (a region at its top level), which leaves the check a name short.
        assert _errors(check) == ["NotImplementedError"] or (
            _errors(solution) == ["NotImplementedError"] and _errors(check) == ["NameError"]
        ), f"{path.name}, cell {exercise.check + 1}: {_errors(solution)}, {_errors(check)}"


def test_a_rewrite_refuses_and_names_what_the_script_did_not_write(sources, tmp_path, capsys):
    notebooks, helpers = sources
    out = tmp_path / "handout"
    edition.write_edition(out, notebooks, helpers)
    notes = out / "student" / "notebooks" / "my_notes.ipynb"
    notes.write_text('{"cells": []}')
    (out / "grading.md").write_text("# Grading\n")
    (out / "marks").mkdir()
    (out / "marks" / "alice.csv").write_text("alice,10\n")
    with pytest.raises(edition.DestinationError) as refused:
        edition.write_edition(out, notebooks, helpers)
    message = str(refused.value)
    assert "grading.md (not written by it)" in message
    assert "student/notebooks/my_notes.ipynb (not written by it)" in message
    assert "marks (a folder it did not make)" in message and "alice.csv" not in message
    assert "move them out of the folder" in message
    assert notes.read_text() == '{"cells": []}' and (out / "marks" / "alice.csv").read_text() == "alice,10\n"
    notebooks_script_wrote = sorted(path.name for path in (out / "student" / "notebooks").iterdir())
    assert notebooks_script_wrote == ["01_demo.ipynb", "02_total.ipynb", "my_notes.ipynb"]

    code = edition.main(["--out", str(out), "--notebooks", str(notebooks)])
    assert code == 1 and capsys.readouterr().err.startswith(f"error: --out {out.resolve()} is an earlier student edition")
    assert (out / "grading.md").exists()


def test_a_rewrite_refuses_a_file_changed_since_the_script_wrote_it(sources, tmp_path):
    notebooks, helpers = sources
    out = tmp_path / "handout"
    edition.write_edition(out, notebooks, helpers)
    solved = out / "student" / "notebooks" / "01_demo.ipynb"
    solved.write_text(solved.read_text(encoding="utf-8").replace("# your code here", "# my answer"), encoding="utf-8")
    with pytest.raises(edition.DestinationError, match=r"student/notebooks/01_demo.ipynb \(changed since it wrote it\)"):
        edition.write_edition(out, notebooks, helpers)
    assert "# my answer" in solved.read_text(encoding="utf-8")


def test_the_manifest_records_every_file_and_python_caches_do_not_block_a_rewrite(sources, tmp_path):
    notebooks, helpers = sources
    out = tmp_path / "handout"
    edition.write_edition(out, notebooks, helpers)
    recorded = json.loads((out / edition.MANIFEST).read_text(encoding="utf-8"))["files"]
    written = {path.relative_to(out).as_posix(): path for path in out.rglob("*") if path.is_file()}
    assert sorted(recorded) == sorted(set(written) - {edition.MANIFEST})
    assert "SOLUTIONS.md" in recorded and "student/helpers/__init__.py" in recorded
    assert all(recorded[name] == edition._digest(path) for name, path in written.items() if name in recorded)

    cache = out / "student" / "helpers" / "__pycache__"  # left by running the edition
    cache.mkdir()
    (cache / "__init__.cpython-311.pyc").write_bytes(b"compiled")
    (notebooks / "02_total.ipynb").unlink()
    edition.write_edition(out, notebooks, helpers)
    assert sorted(path.name for path in (out / "student" / "notebooks").iterdir()) == ["01_demo.ipynb"]
    assert not cache.exists()


@pytest.mark.parametrize("record", [None, "not json", '{"files": ["SOLUTIONS.md"]}'], ids=["missing", "not JSON", "not a record"])
def test_an_edition_without_a_whole_manifest_is_refused(sources, tmp_path, record):
    """An edition written before the script kept a manifest, or one whose manifest is damaged:
    what the script wrote there cannot be told."""
    notebooks, helpers = sources
    out = tmp_path / "handout"
    edition.write_edition(out, notebooks, helpers)
    manifest = out / edition.MANIFEST
    manifest.unlink() if record is None else manifest.write_text(record)
    with pytest.raises(edition.DestinationError, match="not an earlier student edition" if record is None else "is damaged"):
        edition.write_edition(out, notebooks, helpers)
    assert (out / "SOLUTIONS.md").exists()


@pytest.mark.parametrize("into", ["notebooks", "helpers"])
def test_an_out_reached_through_a_link_is_checked_where_it_leads(sources, tmp_path, into):
    notebooks, helpers = sources
    link = tmp_path / "shortcut"
    link.symlink_to(notebooks if into == "notebooks" else helpers, target_is_directory=True)
    before = sorted(path.name for path in (notebooks if into == "notebooks" else helpers).iterdir())
    with pytest.raises(edition.DestinationError, match=rf"--out {link / 'handout'} \(which leads to .*{into}/handout\) lies inside"):
        edition.write_edition(link / "handout", notebooks, helpers)
    assert sorted(path.name for path in (notebooks if into == "notebooks" else helpers).iterdir()) == before


def test_an_out_that_links_to_an_earlier_edition_rewrites_that_edition(sources, tmp_path):
    notebooks, helpers = sources
    out = tmp_path / "handout"
    edition.write_edition(out, notebooks, helpers)
    link = tmp_path / "latest"
    link.symlink_to(out, target_is_directory=True)
    (notebooks / "02_total.ipynb").unlink()
    edition.write_edition(link, notebooks, helpers)
    assert link.is_symlink() and sorted(path.name for path in (out / "student" / "notebooks").iterdir()) == ["01_demo.ipynb"]


def test_written_answers_leave_the_notebooks_for_the_solutions():
    markdown = (
        "## Exercises\n\n**1. Why?** Explain.\n\n<details>\n<summary>Solution</summary>\n\nBecause of x.\n</details>\n\n"
        "**2. How?** Show.\n\n<details><summary>Solutions</summary>\nLike y.</details>\n\nA closing line."
    )
    text, pairs = edition.split_answers(markdown)
    assert "Because" not in text and "Like y" not in text and "<details" not in text
    assert "**2. How?** Show." in text and text.endswith("A closing line.") and text.count(edition.ANSWER_NOTE) == 2
    assert pairs == [("**1. Why?** Explain.", "Because of x."), ("**2. How?** Show.", "Like y.")]
    solutions = edition.solutions_markdown({"01_demo.ipynb": []}, {"01_demo.ipynb": pairs})
    assert "### Answer 2\n\n> **2. How?** Show.\n\nLike y." in solutions


def test_the_real_student_edition_holds_no_answer(tmp_path):
    edition.write_edition(tmp_path / "handout")
    for path in (tmp_path / "handout" / "student" / "notebooks").glob("*.ipynb"):
        assert "<details" not in path.read_text(encoding="utf-8"), path.name
    cells = [cell for path in NOTEBOOKS for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]]
    written = sum(len(edition.ANSWER.findall("".join(cell["source"]))) for cell in cells if cell["cell_type"] == "markdown")
    assert written >= 14
    assert (tmp_path / "handout" / "SOLUTIONS.md").read_text(encoding="utf-8").count("### Answer ") == written
