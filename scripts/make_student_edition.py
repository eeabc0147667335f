"""Write the student edition of the notebooks: every exercise's solution taken out.

    python scripts/make_student_edition.py --out DIR    # write DIR (replaces an earlier edition it wrote)
    python scripts/make_student_edition.py --check      # only check the exercise convention

DIR receives the edition to hand out, `DIR/student/`, and beside it the teacher's solutions:

- `student/notebooks/`: every notebooks/*.ipynb, where the code between each `# BEGIN SOLUTION` and
  `# END SOLUTION` line of a solution cell is replaced, at the marker's indentation, by
  `raise NotImplementedError(...)`. The solution cell and its check cell get the tag
  `raises-exception`, with which Jupyter, nbclient and nbval run on past their error while the
  exercise is unsolved, and their outputs are cleared; every other cell keeps its outputs.
- `student/helpers/`: a copy of the package, so that `student/` runs on its own: the notebooks'
  set-up cell imports `helpers` from beside `notebooks/`.
- `SOLUTIONS.md`, for the teacher (outside `student/`, so handing that folder out leaves it behind): every exercise by notebook, its title and its solution cell,
  and every written answer: a markdown cell's `<details><summary>Solution</summary>` block (or
  `Solutions`), with the question before it. The student notebooks keep the question and lose the
  block, so `student/` holds no answer.
- `edition-manifest.json`: the record of what the script wrote, every file's path and SHA-256.

The convention (docs/teaching.md): an exercise is a markdown cell whose first line
starts `### Exercise (write it yourself):`, then one code cell tagged `solution` in which every
part the student writes sits between the marker lines, then one code cell tagged
`exercise-check`. No later cell but the check may use a name that the unsolved solution cell
leaves undefined, or defined but raising (checked statically from the names the cells read), so
that the student edition runs on while an exercise is unsolved. A notebook that breaks the
convention stops the script with an error naming the notebook and the cell.

The edition is built in a temporary folder beside DIR and renamed into place
(`helpers.runtime.atomic_files.atomic_path`), after the previous edition is renamed aside. A failure
leaves the previous edition as it was; a kill does too (plus the hidden temporary folder),
unless it falls in the instant between the two renames, which leaves both editions under their
hidden names. DIR must be new, empty, or an earlier edition that holds only what the script
wrote there, unchanged, as its manifest records (Python's `__pycache__` folders aside): writing
never deletes what the script did not write. A file or folder added to the edition (notes, a
grading sheet) or changed since (a notebook run and saved) is refused, and the refusal names
it; so is a DIR that holds files but no manifest (someone else's folder, or an edition written
before the script kept one). Paths are checked with their symbolic links resolved: DIR cannot
reach `notebooks/` or `helpers/` through a link, and a DIR that is a link to an earlier
edition rewrites that edition, the link staying.
"""

import argparse
import ast
import copy
import hashlib
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NOTEBOOKS = ROOT / "notebooks"
HELPERS = ROOT / "helpers"

from helpers.runtime.atomic_files import atomic_path  # noqa: E402

EXERCISE_HEADING = "### Exercise (write it yourself):"
SOLUTION_TAG = "solution"
CHECK_TAG = "exercise-check"
RAISES_TAG = "raises-exception"
BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
PLACEHOLDER = ("# your code here", 'raise NotImplementedError("Exercise: write this part, then run the check below.")')
MARKER_LIKE = re.compile(r"(BEGIN|END)\s*SOLUTION", re.IGNORECASE)
SOLUTIONS_TITLE = "# Solutions to the exercises"
ANSWER = re.compile(r"\n*<details>\s*<summary>Solutions?</summary>(.*?)</details>[ \t]*", re.DOTALL)
ANSWER_NOTE = "*(The answer is in the teacher's SOLUTIONS.md.)*"
MANIFEST = "edition-manifest.json"
PYTHON_CACHE = "__pycache__"  # Python rebuilds it: an earlier edition may hold one (the teacher ran it)
LISTED_AT_MOST = 10


class ConventionError(ValueError):
    """A notebook breaks the exercise convention; the message names the notebook and the cell."""


class DestinationError(ValueError):
    """--out names a folder the edition must not be written to."""


@dataclass
class Exercise:
    notebook: str  # file name
    title: str  # the exercise cell's first line
    prompt: int  # cell indices
    solution: int
    check: int
    source: str  # the solution cell, markers included


def _source(cell):
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def _tags(cell):
    return list(cell.get("metadata", {}).get("tags", []))


def _is_prompt(cell):
    lines = _source(cell).lstrip("\n").splitlines()
    return cell["cell_type"] == "markdown" and bool(lines) and lines[0].startswith(EXERCISE_HEADING)


def _where(name, index):
    return f"{name}, cell {index + 1}"  # counted from 1, as a reader counts the cells


def _python(source):
    """The cell as Python: IPython's magic and shell lines become `pass` statements."""
    lines = source.splitlines()
    for number, line in enumerate(lines):
        if line.lstrip().startswith(("%", "!")):
            lines[number] = line[: len(line) - len(line.lstrip())] + "pass"
    return "\n".join(lines)


def student_source(source, where="the cell"):
    """The solution cell's source with every marked region replaced by the placeholder, at the
    marker's indentation. Raises ConventionError on missing, unbalanced or nested markers, on a
    region that holds no code or code less indented than its markers, and when the result is not
    valid Python."""
    lines, region = source.split("\n"), None
    student, regions = [], 0
    for number, line in enumerate(lines, start=1):
        marker, indent = line.strip(), line[: len(line) - len(line.lstrip())]
        if MARKER_LIKE.search(line) and marker not in (BEGIN, END):
            raise ConventionError(
                f"{where}: line {number} looks like a solution marker but is not the line {BEGIN!r} or {END!r} alone"
            )
        if marker == BEGIN:
            if region is not None:
                raise ConventionError(f"{where}: line {number} opens a solution region inside the one opened on line {region[0]}")
            region = (number, indent, [])
        elif marker == END:
            if region is None:
                raise ConventionError(f"{where}: line {number} closes a solution region that no {BEGIN!r} line opened")
            opened, opened_indent, enclosed = region
            if indent != opened_indent:
                raise ConventionError(f"{where}: the markers on lines {opened} and {number} are indented differently")
            code = [text for text in enclosed if text.strip()]
            if not code:
                raise ConventionError(f"{where}: the solution region of lines {opened}-{number} holds no code")
            if any(not text.startswith(indent) for text in code):
                raise ConventionError(
                    f"{where}: the solution region of lines {opened}-{number} holds code indented less than its markers"
                )
            student.extend(indent + text for text in PLACEHOLDER)
            region, regions = None, regions + 1
        elif region is not None:
            region[2].append(line)
        else:
            student.append(line)
    if region is not None:
        raise ConventionError(f"{where}: the solution region opened on line {region[0]} is never closed ({END!r})")
    if not regions:
        raise ConventionError(f"{where}: a cell tagged {SOLUTION_TAG!r} has no {BEGIN!r} ... {END!r} region")
    result = "\n".join(student)
    try:
        ast.parse(_python(result))
    except SyntaxError as error:
        raise ConventionError(
            f"{where}: with its solution taken out the cell is not valid Python (line {error.lineno}: {error.msg}); "
            "keep `def`/`class` lines and the statements around a region outside the markers"
        ) from None
    return result


def _bound_and_loaded(source):
    """Names a cell binds at any level, and names it reads, in the order of the source."""
    try:
        tree = ast.parse(_python(source))
    except SyntaxError:
        return set(), set()
    bound, loaded = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return bound, loaded


def _bound_by(statement):
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in statement.names}
    return {node.id for node in ast.walk(statement) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}


def _holds_placeholder(statement):
    return any(
        isinstance(node, ast.Raise) and "NotImplementedError" in ast.dump(node) and "Exercise:" in ast.dump(node)
        for node in ast.walk(statement)
    )


def _defined_at_top(source, student=False):
    """Names a cell binds at its top level (the names a later cell could use). With `student`
    (a student edition's solution cell), only those a later cell can use while the exercise is
    unsolved: bound before the cell stops at a placeholder, and not a function or class holding
    one (it raises when used)."""
    try:
        tree = ast.parse(_python(source))
    except SyntaxError:
        return set()
    names = set()
    for statement in tree.body:
        if student and _holds_placeholder(statement):
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            break  # the cell raises here: nothing after it is defined
        names |= _bound_by(statement)
    return names


def find_exercises(notebook, name):
    """The notebook's exercises, in order, after checking the convention (ConventionError
    names the notebook and cell of the first break)."""
    cells, exercises = notebook["cells"], []
    for index, cell in enumerate(cells):
        tags, where = _tags(cell), _where(name, index)
        text = _source(cell)
        if cell["cell_type"] == "code" and MARKER_LIKE.search(text) and SOLUTION_TAG not in tags:
            raise ConventionError(f"{where}: solution markers in a code cell not tagged {SOLUTION_TAG!r}")
        if SOLUTION_TAG in tags and CHECK_TAG in tags:
            raise ConventionError(f"{where}: a cell is tagged both {SOLUTION_TAG!r} and {CHECK_TAG!r}")
        if _is_prompt(cell):
            following = cells[index + 1] if index + 1 < len(cells) else None
            if following is None or SOLUTION_TAG not in _tags(following):
                raise ConventionError(f"{where}: the exercise cell is not followed by a code cell tagged {SOLUTION_TAG!r}")
        if SOLUTION_TAG in tags:
            if cell["cell_type"] != "code":
                raise ConventionError(f"{where}: a {cell['cell_type']} cell is tagged {SOLUTION_TAG!r}")
            if index == 0 or not _is_prompt(cells[index - 1]):
                raise ConventionError(f"{where}: a solution cell not preceded by a markdown cell starting {EXERCISE_HEADING!r}")
            following = cells[index + 1] if index + 1 < len(cells) else None
            if following is None or CHECK_TAG not in _tags(following):
                raise ConventionError(f"{where}: a solution cell not followed by a code cell tagged {CHECK_TAG!r}")
            student_source(text, where)
            title = _source(cells[index - 1]).lstrip("\n").splitlines()[0].strip()
            exercises.append(Exercise(name, title, index - 1, index, index + 1, text))
        if CHECK_TAG in tags:
            if cell["cell_type"] != "code":
                raise ConventionError(f"{where}: a {cell['cell_type']} cell is tagged {CHECK_TAG!r}")
            if index == 0 or SOLUTION_TAG not in _tags(cells[index - 1]):
                raise ConventionError(f"{where}: a check cell not preceded by a code cell tagged {SOLUTION_TAG!r}")
    _check_names_stay_in_the_exercise(cells, exercises, name)
    return exercises


def _check_names_stay_in_the_exercise(cells, exercises, name):
    """A name that the student edition's solution cell leaves undefined (bound in a solution
    region, or after a placeholder that stops the cell) must not be read by a later cell other
    than its check, where it would be missing while the exercise is unsolved. A static check;
    the tests also run the student edition."""
    defined_before, only_in_solutions = set(), {}
    solutions = {exercise.solution: exercise for exercise in exercises}
    checks = {exercise.check for exercise in exercises}
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        source = _source(cell)
        bound, loaded = _bound_and_loaded(source)
        if index not in checks:
            for used in sorted(loaded & (only_in_solutions.keys() - bound)):
                raise ConventionError(
                    f"{_where(name, index)}: uses {used!r} from the solution cell ({_where(name, only_in_solutions[used])}), "
                    "which the student edition leaves undefined or raising NotImplementedError: only the check may use it"
                )
        if index in solutions:
            kept = _defined_at_top(student_source(source), student=True)
            for defined in _defined_at_top(source) - kept - defined_before:
                only_in_solutions[defined] = index
            defined_before |= kept
            for defined in kept:
                only_in_solutions.pop(defined, None)
            continue
        rebound = _defined_at_top(source)
        defined_before |= rebound
        for defined in rebound:
            only_in_solutions.pop(defined, None)


def split_answers(markdown):
    """(`markdown` without its answer blocks, [(question, answer)]): the question is the text
    between the previous answer (or the cell's start) and the block."""
    pairs, kept, start = [], [], 0
    for match in ANSWER.finditer(markdown):
        question = markdown[start : match.start()]
        kept.append(question + "\n\n" + ANSWER_NOTE)
        asked = "\n".join(line for line in question.strip().splitlines() if not line.startswith("#"))
        pairs.append((asked.strip(), match.group(1).strip()))
        start = match.end()
    kept.append(markdown[start:])
    return "".join(kept), pairs


def student_notebook(notebook, name):
    """(the student edition of `notebook`, its exercises, its written answers [(question, answer)])."""
    exercises = find_exercises(notebook, name)
    student = copy.deepcopy(notebook)
    answers = []
    for cell in student["cells"]:
        if cell["cell_type"] == "markdown":
            text, pairs = split_answers(_source(cell))
            if pairs:
                cell["source"], answers = _as_lines(text), answers + pairs
    for exercise in exercises:
        for index in (exercise.solution, exercise.check):
            cell = student["cells"][index]
            tags = _tags(cell)
            cell["metadata"]["tags"] = tags + [RAISES_TAG] if RAISES_TAG not in tags else tags
            cell["outputs"], cell["execution_count"] = [], None
        cell = student["cells"][exercise.solution]
        cell["source"] = _as_lines(student_source(exercise.source, _where(name, exercise.solution)))
    return student, exercises, answers


def _as_lines(text):
    """A cell's source as the notebooks store it: a list of lines, each but the last with its newline."""
    return text.splitlines(keepends=True)


def solutions_markdown(exercises_by_notebook, answers_by_notebook):
    """SOLUTIONS.md: every exercise by notebook, its title line and its whole solution cell, then
    the notebook's written answers, each under its question."""
    lines = [
        SOLUTIONS_TITLE,
        "",
        "Written by `scripts/make_student_edition.py` beside the student edition of the notebooks. "
        f"Each solution is the notebook's cell tagged `{SOLUTION_TAG}`; the part the student writes "
        f"lies between `{BEGIN}` and `{END}`.",
    ]
    for notebook, exercises in exercises_by_notebook.items():
        lines += ["", f"## {notebook}", ""]
        if not exercises:
            lines.append("No exercises.")
        for number, exercise in enumerate(exercises, start=1):
            title = exercise.title.removeprefix("###").strip()
            fence = "````" if "```" in exercise.source else "```"
            lines += [] if number == 1 else [""]
            lines += [
                f"### {number}. {title}",
                "",
                f"Cell {exercise.solution + 1} of `notebooks/{notebook}`:",
                "",
                f"{fence}python",
                exercise.source.rstrip("\n"),
                fence,
            ]
        for number, (question, answer) in enumerate(answers_by_notebook.get(notebook, []), start=1):
            quoted = "\n".join(f"> {line}".rstrip() for line in question.splitlines())
            lines += ["", f"### Answer {number}", "", quoted, "", answer]
    return "\n".join(lines).rstrip("\n") + "\n"


def _is_inside(path, folder):
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def _resolved(path, flag):
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError) as error:  # RuntimeError: a loop of links
        raise DestinationError(f"{flag} {path} cannot be followed to a folder ({error}). Choose another folder.") from None


def _check_destination(out, notebooks_dir, helpers_dir):
    """`out` resolved, once it is checked to be a folder the edition may be written to (see the
    module's docstring); DestinationError otherwise."""
    given, out = out, _resolved(out, "--out")
    shown = str(out) if Path(os.path.abspath(given)) == out else f"{given} (which leads to {out})"
    for folder, why in (
        (_resolved(notebooks_dir, "--notebooks"), "it would mix the student edition with the notebooks it is made from"),
        (_resolved(helpers_dir, "helpers"), "helpers/ is copied into it"),
    ):
        if _is_inside(out, folder):
            raise DestinationError(f"--out {shown} lies inside {folder}: {why}. Choose a folder outside it.")
        if _is_inside(folder, out):
            raise DestinationError(f"--out {shown} holds {folder}, which writing the edition would replace. Choose a new folder.")
    if out.exists():
        if not out.is_dir():
            raise DestinationError(f"--out {shown} is a file, not a folder.")
        _check_earlier_edition(out, shown)
    return out


def _check_earlier_edition(out, shown):
    """Refuse the existing folder `out` unless it is empty or holds only what this script wrote
    there, unchanged: writing the edition replaces the folder whole."""
    recorded = _recorded_files(out, shown)
    if recorded is None:
        if any(out.iterdir()):
            raise DestinationError(
                f"--out {shown} holds files but no {MANIFEST}, the record this script keeps of what it wrote: it is "
                "not an earlier student edition (or one written before the record was kept), and writing there would "
                "replace them. Choose a new or empty folder."
            )
        return
    foreign = _not_written_by_this_script(out, recorded)
    if foreign:
        listed = ", ".join(foreign[:LISTED_AT_MOST])
        if len(foreign) > LISTED_AT_MOST:
            listed += f", and {len(foreign) - LISTED_AT_MOST} more"
        raise DestinationError(
            f"--out {shown} is an earlier student edition, but it holds what this script did not write there, or "
            f"changed since it wrote it: {listed}. Writing the edition would delete them: move them out of the folder "
            "(or delete them), or choose another --out, then run again."
        )


def _recorded_files(out, shown):
    """{path relative to `out`: SHA-256} from the manifest of the edition in `out`; None when there is none."""
    path = out / MANIFEST
    if not path.is_file():
        return None
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
        whole = isinstance(files, dict) and all(isinstance(digest, str) for digest in files.values())
    except (OSError, ValueError, KeyError, TypeError):  # UnicodeDecodeError is a ValueError
        whole = False
    if not whole:
        raise DestinationError(
            f"--out {shown}: its {MANIFEST}, the record of what this script wrote there, is damaged, so which files "
            "are the script's cannot be told, and writing there would replace them. Choose a new or empty folder."
        )
    return files


def _not_written_by_this_script(out, recorded):
    """What `out` holds that the manifest `recorded` does not, or with another content, each as
    'path (why)'; a folder that is not the script's is named, not what it holds."""
    made = {parent.as_posix() for name in recorded for parent in Path(name).parents}
    found, folders = [], [out]
    while folders:
        for path in folders.pop().iterdir():
            relative = path.relative_to(out).as_posix()
            if path.is_symlink():
                found.append(f"{relative} (a link it did not make)")
            elif path.is_dir():
                if relative in made:
                    folders.append(path)
                elif path.name != PYTHON_CACHE:
                    found.append(f"{relative} (a folder it did not make)")
            elif relative not in recorded:
                if relative != MANIFEST:
                    found.append(f"{relative} (not written by it)")
            elif _digest(path) != recorded[relative]:
                found.append(f"{relative} (changed since it wrote it)")
    return sorted(found)


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_manifest(folder):
    """Record every file the edition in `folder` holds, with its SHA-256, in `folder/MANIFEST`."""
    files = {path.relative_to(folder).as_posix(): _digest(path) for path in sorted(folder.rglob("*")) if path.is_file()}
    record = {"written_by": "scripts/make_student_edition.py", "files": files}
    (folder / MANIFEST).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def _write_notebook(path, notebook):
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def write_edition(out, notebooks_dir=NOTEBOOKS, helpers_dir=HELPERS):
    """Write the student edition into `out` (see the module's docstring); returns the exercises by
    notebook. Nothing is written when a notebook breaks the convention."""
    out = _check_destination(out, notebooks_dir, helpers_dir)
    editions, exercises, answers = {}, {}, {}
    for path in sorted(Path(notebooks_dir).glob("*.ipynb")):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        editions[path.name], exercises[path.name], answers[path.name] = student_notebook(notebook, path.name)
    if not editions:
        raise DestinationError(f"No notebooks in {notebooks_dir}.")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as temporary:
        (temporary / "student" / "notebooks").mkdir(parents=True)
        for name, notebook in editions.items():
            _write_notebook(temporary / "student" / "notebooks" / name, notebook)
        shutil.copytree(helpers_dir, temporary / "student" / "helpers", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (temporary / "SOLUTIONS.md").write_text(solutions_markdown(exercises, answers), encoding="utf-8")
        _write_manifest(temporary)
    return exercises


def check_convention(notebooks_dir=NOTEBOOKS):
    """The exercises by notebook; ConventionError at the first break of the convention."""
    return {
        path.name: find_exercises(json.loads(path.read_text(encoding="utf-8")), path.name)
        for path in sorted(Path(notebooks_dir).glob("*.ipynb"))
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--out", type=Path, help="the folder to write the student edition into")
    action.add_argument("--check", action="store_true", help="only check the exercise convention")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    try:
        if arguments.check:
            exercises = check_convention(arguments.notebooks)
        else:
            exercises = write_edition(arguments.out, arguments.notebooks)
    except (ConventionError, DestinationError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for name, found in exercises.items():
        print(f"{name}: {len(found)} exercise{'' if len(found) == 1 else 's'}")
    if not arguments.check:
        print(f"wrote {arguments.out}/student (notebooks and helpers, to hand out) and {arguments.out}/SOLUTIONS.md (for the teacher)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
