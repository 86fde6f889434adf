"""Which programs the test sources run on this machine, read from the sources (nothing runs).

A program counts where a test or one of its helpers

- looks it up: ``shutil.which(NAME)``, or a helper that passes its parameter on to it
  (``checkers.tool``);
- runs it: the first element of an argv given to ``subprocess`` (``run``, ``Popen``,
  ``check_output``...), written in place, held in a variable, built by a helper (``isolated``)
  or passed through one (``checkers.run``); a path counts by its last part
  (``f"{PG_BIN}/initdb"`` is ``initdb``);
- has it run: the command after ``--`` of runuser or unshare, and the command words of an
  ``sh -c`` script written in the test.

An argv whose program is computed (``sys.executable``, a console script of the venv, a
script of this repository) cannot be named from the source: it is reported as unresolved,
by its source text, so that a reader says what it runs.
"""

from __future__ import annotations

import ast
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

#: Calls that run their first argument, an argv (or a shell script with ``shell=True``).
RUNS_ARGV = {
    "subprocess.run",
    "subprocess.Popen",
    "subprocess.call",
    "subprocess.check_call",
    "subprocess.check_output",
}
#: Calls that run their first argument as a shell script.
RUNS_SCRIPT = {"os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput"}
#: Calls that look a program up by its name, their first argument.
FINDS = {"shutil.which"}
SHELLS = {"sh", "dash", "bash"}
#: Programs that run the command after their ``--``.
RUNNERS = {"runuser", "unshare", "env", "nsenter", "setpriv", "timeout"}
#: Shell words that are no program: the builtins used in scripts, and ``exec``/``command``,
#: which run the next word.
BUILTINS = {".", ":", "cd", "echo", "export", "false", "printf", "read", "set", "test", "[", "true"}
PREFIXES = {"exec", "command", "!"}
OPERATORS = {";", "&", "&&", "|", "||", "(", ")", ";;"}
MAX_DEPTH = 8


@dataclass(frozen=True)
class Found:
    """A program named in a test source, or the text of an argv part that names none.

    + name: the program (``nginx``), or the source text of what runs (``sys.executable``)
    + where: ``path:line`` of the call that runs or looks it up
    """

    name: str
    where: str


@dataclass
class Report:
    """What the test sources run: named programs, and computed ones to be explained."""

    programs: list[Found] = field(default_factory=list)
    unresolved: list[Found] = field(default_factory=list)


@dataclass(frozen=True)
class _Param:
    """A parameter of a function of the test sources: its callers say what it holds."""

    name: str
    module: Path
    function: _Function


@dataclass(frozen=True)
class _Unknown:
    """A part of an argv that the source computes: its source text."""

    text: str


@dataclass(frozen=True)
class _Module:
    path: Path
    label: str
    tree: ast.Module
    parents: dict[ast.AST, ast.AST]
    defs: dict[str, list[ast.FunctionDef]]
    imports: dict[str, str]


_Function = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda


@dataclass(frozen=True)
class _Scope:
    """Where a name is looked up: the functions around an expression, then its module;
    ``bound`` holds the arguments of an inlined call (``isolated([...])``)."""

    module: _Module
    functions: tuple[_Function, ...]
    bound: tuple[tuple[str, ast.expr, _Scope], ...] = ()


# An argv element: an expression where it was written, or something that is no expression
# here (a parameter of a function, or a part that cannot be followed).
_Element = tuple[ast.expr, _Scope] | _Param | _Unknown


def scan(root: Path, base: Path) -> Report:
    """Read every ``*.py`` under ``root`` for the programs it runs.

    + root: the folder of test sources (``tests``)
    + base: what ``where`` is relative to (the repository)
    """
    modules = [_load(path, base) for path in sorted(root.rglob("*.py"))]
    reader = _Reader({m.path: m for m in modules})
    # A helper that hands its parameter to subprocess (or to shutil.which) makes its callers'
    # arguments argvs (or program names): found helper by helper until nothing new turns up.
    while True:
        known = (dict(reader.argv_helpers), dict(reader.find_helpers))
        for module in modules:
            reader.read(module)
        if known == (reader.argv_helpers, reader.find_helpers):
            return reader.report
        reader.report = Report()


def _load(path: Path, base: Path) -> _Module:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    defs: dict[str, list[ast.FunctionDef]] = {}
    imports: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            defs.setdefault(node.name, []).append(node)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                imports[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    label = str(path.relative_to(base))
    return _Module(path, label, tree, parents, defs, imports)


class _Reader:
    def __init__(self, modules: dict[Path, _Module]) -> None:
        self.modules = modules
        # (module path, function name) -> index of the parameter that is an argv / a name.
        self.argv_helpers: dict[tuple[Path, str], int] = {}
        self.find_helpers: dict[tuple[Path, str], int] = {}
        self.report = Report()

    def read(self, module: _Module) -> None:
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call):
                self._call(node, self._scope_of(node, module))

    def _scope_of(self, node: ast.AST, module: _Module) -> _Scope:
        functions: list[_Function] = []
        while node in module.parents:
            node = module.parents[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                functions.append(node)
        return _Scope(module, tuple(functions))

    def _call(self, call: ast.Call, scope: _Scope) -> None:
        where = f"{scope.module.label}:{call.lineno}"
        target = self._callee(call.func, scope)
        if target in FINDS or (isinstance(target, tuple) and target in self.find_helpers):
            index = self.find_helpers.get(target, 0) if isinstance(target, tuple) else 0
            if index < len(call.args):
                for name in self._programs(call.args[index], scope, 0):
                    self._note(name, where, self.find_helpers)
            return
        shell = any(k.arg == "shell" and _is_true(k.value) for k in call.keywords)
        if target in RUNS_SCRIPT or (target in RUNS_ARGV and shell):
            if call.args:
                self._script(call.args[0], scope, [], where, 0)
            return
        if target in RUNS_ARGV:
            index = 0
        elif isinstance(target, tuple) and target in self.argv_helpers:
            index = self.argv_helpers[target]
        else:
            return
        if index < len(call.args):
            for argv in self._argvs(call.args[index], scope, 0):
                self._argv(argv, where, scope, 0)

    def _note(
        self, found: str | _Param | _Unknown, where: str, helpers: dict[tuple[Path, str], int]
    ) -> None:
        """Record a program, or make the function whose parameter it is a helper."""
        if isinstance(found, _Param):
            function = found.function
            names = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
            if isinstance(function, ast.FunctionDef) and found.name in names:
                helpers[(found.module, function.name)] = names.index(found.name)
            else:  # *args, or a lambda's: no caller can be followed
                self.report.unresolved.append(Found(found.name, where))
            return
        if isinstance(found, _Unknown):
            self.report.unresolved.append(Found(found.text, where))
        else:
            self.report.programs.append(Found(found, where))

    # --- argvs ---------------------------------------------------------------------------

    def _argv(self, argv: list[_Element], where: str, scope: _Scope, depth: int) -> None:
        """The programs of one argv: its first element, and what that one runs in turn."""
        if not argv:
            self._note(_Unknown("(an empty or unknown argv)"), where, self.argv_helpers)
            return
        first = argv[0]
        if isinstance(first, _Param | _Unknown):
            self._note(first, where, self.argv_helpers)
            return
        names = list(self._programs(first[0], first[1], depth))
        for name in names:
            self._note(name, where, self.argv_helpers)
        rest = argv[1:]
        words = _words(rest)
        if SHELLS & {n for n in names if isinstance(n, str)} and words[:1] == ["-c"]:
            if len(rest) > 1 and not isinstance(rest[1], _Param | _Unknown):
                self._script(rest[1][0], rest[1][1], rest[3:], where, depth)
        elif RUNNERS & {n for n in names if isinstance(n, str)} and "--" in words:
            self._argv(rest[words.index("--") + 1 :], where, scope, depth + 1)

    def _argvs(self, expr: ast.expr, scope: _Scope, depth: int) -> Iterator[list[_Element]]:
        """Each argv an expression can be: one per assignment or ``return`` that makes it."""
        if depth > MAX_DEPTH:
            yield [_Unknown(ast.unparse(expr))]
        elif isinstance(expr, ast.List | ast.Tuple):
            yield from self._elements(expr.elts, scope, depth)
        elif isinstance(expr, ast.Name):
            values = list(self._values(expr.id, scope))
            if not values:
                yield [_Unknown(expr.id)]
            for value in values:
                if isinstance(value, _Param):
                    yield [value]
                else:
                    yield from self._argvs(value[0], value[1], depth + 1)
        elif isinstance(expr, ast.IfExp):
            yield from self._argvs(expr.body, scope, depth + 1)
            yield from self._argvs(expr.orelse, scope, depth + 1)
        elif isinstance(expr, ast.Call) and (inlined := list(self._inline(expr, scope))):
            for returned, inner in inlined:
                yield from self._argvs(returned, inner, depth + 1)
        else:
            yield [_Unknown(ast.unparse(expr))]

    def _elements(
        self, elts: list[ast.expr], scope: _Scope, depth: int
    ) -> Iterator[list[_Element]]:
        if not elts:
            yield []
            return
        head, tail = elts[0], elts[1:]
        heads: list[list[_Element]] = (
            list(self._argvs(head.value, scope, depth + 1))
            if isinstance(head, ast.Starred)
            else [[(head, scope)]]
        )
        tails = list(self._elements(tail, scope, depth))
        for first in heads:
            for rest in tails:
                yield first + rest

    # --- program names -------------------------------------------------------------------

    def _programs(
        self, expr: ast.expr, scope: _Scope, depth: int
    ) -> Iterator[str | _Param | _Unknown]:
        """The program an argv element names (its last path part), where the source says."""
        if depth > MAX_DEPTH:
            yield _Unknown(ast.unparse(expr))
        elif isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            yield PurePosixPath(expr.value).name
        elif isinstance(expr, ast.JoinedStr):
            last = expr.values[-1] if expr.values else None
            if isinstance(last, ast.Constant) and "/" in str(last.value):
                yield str(last.value).rsplit("/", 1)[1]
            else:
                yield _Unknown(ast.unparse(expr))
        elif isinstance(expr, ast.Name):
            values = list(self._values(expr.id, scope))
            if not values:
                yield _Unknown(expr.id)
            for value in values:
                if isinstance(value, _Param):
                    yield value
                else:
                    yield from self._programs(value[0], value[1], depth + 1)
        elif isinstance(expr, ast.Call):
            target = self._callee(expr.func, scope)
            finder = target in FINDS or (isinstance(target, tuple) and target in self.find_helpers)
            inlined = [] if finder else list(self._inline(expr, scope))
            if finder and expr.args:
                index = self.find_helpers.get(target, 0) if isinstance(target, tuple) else 0
                yield from self._programs(expr.args[index], scope, depth + 1)
            elif inlined:
                for returned, inner in inlined:
                    yield from self._programs(returned, inner, depth + 1)
            else:
                yield _Unknown(ast.unparse(expr))
        else:
            yield _Unknown(ast.unparse(expr))

    # --- shell scripts -------------------------------------------------------------------

    def _script(
        self, expr: ast.expr, scope: _Scope, arguments: list[_Element], where: str, depth: int
    ) -> None:
        """The command words of an ``sh -c`` script written in a test; ``arguments`` are
        its ``$@``."""
        for text, holes in self._texts(expr, scope, depth):
            if text is None:
                self._note(_Unknown(ast.unparse(expr)), where, self.argv_helpers)
                continue
            for word in _command_words(text):
                if word in holes:
                    self._note(_Unknown(holes[word]), where, self.argv_helpers)
                elif word in ('"$@"', "$@"):
                    self._argv(arguments, where, scope, depth + 1)
                elif not word.startswith("$"):
                    self._note(PurePosixPath(word).name, where, self.argv_helpers)

    def _texts(
        self, expr: ast.expr, scope: _Scope, depth: int
    ) -> Iterator[tuple[str | None, dict[str, str]]]:
        """A script's text, its ``{...}`` parts replaced by placeholder words (their source)."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            yield expr.value, {}
        elif isinstance(expr, ast.JoinedStr):
            holes: dict[str, str] = {}
            parts = []
            for part in expr.values:
                if isinstance(part, ast.FormattedValue):
                    hole = f"fksHole{len(holes)}"
                    holes[hole] = ast.unparse(part.value)
                    parts.append(hole)
                else:
                    parts.append(str(ast.literal_eval(part)))
            yield "".join(parts), holes
        elif isinstance(expr, ast.Name) and depth <= MAX_DEPTH:
            for value in self._values(expr.id, scope):
                if isinstance(value, _Param):
                    yield None, {}
                else:
                    yield from self._texts(value[0], value[1], depth + 1)
        else:
            yield None, {}

    # --- names ---------------------------------------------------------------------------

    def _values(self, name: str, scope: _Scope) -> Iterator[_Param | tuple[ast.expr, _Scope]]:
        """What a name holds where it is used: a bound argument, a parameter, or each value
        assigned to it in the nearest function (or module) that assigns it."""
        for bound, value, where in scope.bound:
            if bound == name:
                yield value, where
                return
        for index, function in enumerate(scope.functions):
            if name in _parameters(function):
                yield _Param(name, scope.module.path, function)
                return
            values = list(_assigned(name, function))
            if values:
                inner = _Scope(scope.module, scope.functions[index:], scope.bound)
                for value in values:
                    yield value, inner
                return
        outer = _Scope(scope.module, ())
        for value in _assigned(name, scope.module.tree, top_level=True):
            yield value, outer

    def _callee(self, func: ast.expr, scope: _Scope) -> str | tuple[Path, str] | None:
        """``"subprocess.run"`` for a library function, ``(path, name)`` for a function
        of the test sources, None for anything else."""
        module = scope.module
        if isinstance(func, ast.Name):
            if func.id in module.defs:
                return (module.path, func.id)
            if func.id in module.imports:
                return self._qualified(module.imports[func.id], module)
            for value in self._values(func.id, scope):
                if not isinstance(value, _Param):
                    return self._callee(value[0], value[1])
            return None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            base = module.imports.get(func.value.id)
            return self._qualified(f"{base}.{func.attr}", module) if base else None
        return None

    def _qualified(self, dotted: str, module: _Module) -> str | tuple[Path, str]:
        """A sibling helper module's function (``checkers.tool``) as ``(path, name)``."""
        owner, _, name = dotted.rpartition(".")
        sibling = module.path.with_name(f"{owner}.py")
        if sibling in self.modules and name in self.modules[sibling].defs:
            return (sibling, name)
        return dotted

    def _inline(self, call: ast.Call, scope: _Scope) -> Iterator[tuple[ast.expr, _Scope]]:
        """The ``return`` values of a test function called here, its parameters bound to
        this call's arguments."""
        target = self._callee(call.func, scope)
        if not isinstance(target, tuple):
            return
        module = self.modules[target[0]]
        for function in module.defs[target[1]]:
            names = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
            bound = [(n, a, scope) for n, a in zip(names, call.args, strict=False)]
            bound += [(k.arg, k.value, scope) for k in call.keywords if k.arg in names]
            inner = _Scope(module, (function,), tuple(bound))
            for node in ast.walk(function):
                if isinstance(node, ast.Return) and node.value is not None:
                    yield node.value, inner


def _parameters(function: _Function) -> set[str]:
    args = function.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return {a.arg for a in every if a is not None}


def _assigned(name: str, node: ast.AST, top_level: bool = False) -> Iterator[ast.expr]:
    """The values assigned to ``name`` in ``node`` (tuple assignments matched by position)."""
    statements = node.body if top_level and isinstance(node, ast.Module) else ast.walk(node)
    for statement in statements:
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                yield from _matching(name, target, statement.value)
        elif isinstance(statement, ast.AnnAssign | ast.NamedExpr) and statement.value:
            yield from _matching(name, statement.target, statement.value)


def _matching(name: str, target: ast.expr, value: ast.expr) -> Iterator[ast.expr]:
    if isinstance(target, ast.Name) and target.id == name:
        yield value
    elif isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
        for inner, part in zip(target.elts, value.elts, strict=False):
            yield from _matching(name, inner, part)


def _words(elements: list[_Element]) -> list[str | None]:
    """The argv elements written as string constants; None for the others."""
    words: list[str | None] = []
    for element in elements:
        expr = None if isinstance(element, _Param | _Unknown) else element[0]
        value = expr.value if isinstance(expr, ast.Constant) else None
        words.append(value if isinstance(value, str) else None)
    return words


def _is_true(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Constant) and expr.value is True


def _command_words(script: str) -> Iterator[str]:
    """The words of a POSIX shell script that name the command run (not builtins)."""
    lexer = shlex.shlex(script, posix=False, punctuation_chars=True)
    lexer.whitespace_split = True
    at_command = True
    redirect = False
    for word in lexer:
        if word in OPERATORS:
            at_command = True
        elif word.startswith(("<", ">")):
            redirect = True
        elif redirect:
            redirect = False
        elif not at_command or word in PREFIXES or word.isdigit() or "=" in word.split("/")[0]:
            continue  # an argument, ``exec``, a redirected descriptor or an assignment
        else:
            at_command = False
            if word not in BUILTINS:
                yield word
