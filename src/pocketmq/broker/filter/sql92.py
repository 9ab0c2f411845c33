"""SQL92 message filters: parse once with lark, compile to one Python closure, evaluate per message.

The language and its semantics are RocketMQ 4.9.8's (filter module: SelectorParser.jj and the
expression classes); the grammar below is ours. Operands are message properties (always strings, or
missing = NULL) and literals: integers (Java int, or long when larger), decimals (double),
'strings' ('' escapes a quote), TRUE, FALSE, NULL. Keywords are case-insensitive, identifiers are
`[A-Za-z_$][A-Za-z0-9_$]*` and case-sensitive.

Semantics kept from RocketMQ (docs/filters.md lists them for users):
- Three-valued logic: a comparison with a missing property is NULL; AND/OR/NOT as in SQL; a message
  matches only when the whole expression is TRUE.
- `prop = 'x'` with `prop` missing is NULL, but `'x' = prop` is FALSE (Java checks the left side
  first); so `'x' <> prop` is TRUE for a missing property while `prop <> 'x'` is NULL.
- A property compared with a number is converted to that number's type (Java Integer/Long/Double
  `valueOf`); when it does not convert, evaluation fails and the message does not match. Two strings
  compared with `<`, `>`, ... are both read as doubles, or the message does not match.
- `prop = TRUE` is true when the property is "true" in any case.
- NOT binds tighter than comparisons: `NOT a = 'x'` is `(NOT a) = 'x'`, which never matches;
  write `NOT (a = 'x')`.
- Refused at compile time, like RocketMQ: `<`, `>`, BETWEEN with a string or boolean literal;
  `= NULL` (use IS NULL); IN with anything but a property on the left and string literals in the
  list; BETWEEN whose literal bounds are reversed; the literal 0.0 (Java rejects doubles below
  Double.MIN_VALUE); a condition that is not boolean (`5`, `'x'`). A bare property used as a
  condition (`a AND b`) is NULL when missing and FALSE otherwise (properties are strings).
"""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from pocketmq.common.errors import PocketMQError

__all__ = ["Sql92Error", "Sql92Filter", "compile_sql92"]


class Sql92Error(PocketMQError, ValueError):
    """An SQL92 expression that does not parse or cannot be evaluated; the message says why. The
    broker answers SUBSCRIPTION_PARSE_FAILED with it."""


class _EvaluationError(Exception):
    """Evaluation failed for one message (Java throws; the broker then treats it as no match)."""


# -- values -----------------------------------------------------------------------------------------
# Runtime values are None (NULL), bool, int (Java Integer), JavaLong (Java Long), float (Java
# Double) or str. Integer and Long differ only when a string is converted to them.


class JavaLong(int):
    """An integer literal outside the Java int range (Java Long)."""

    __slots__ = ()


Value = None | bool | int | float | str
Properties = Mapping[str, str]
Evaluator = Callable[[Properties], Any]

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_JAVA_INTEGER = re.compile(r"[+-]?[0-9]+")
# Java Double.valueOf: surrounding whitespace (<= U+0020), sign, NaN / Infinity / decimal with an
# optional exponent and an optional f/F/d/D suffix (hexadecimal floats are not supported here).
_JAVA_DOUBLE = re.compile(
    r"[\x00-\x20]*[+-]?(NaN|Infinity|([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?[fFdD]?)[\x00-\x20]*"
)


def _kind(value: Any) -> str:
    kind = type(value)
    if kind is bool:
        return "bool"
    if kind is int:
        return "int"
    if kind is JavaLong:
        return "long"
    if kind is float:
        return "double"
    return "str"


def _parse_java_int(text: str, low: int, high: int) -> int:
    if not _JAVA_INTEGER.fullmatch(text):
        raise _EvaluationError(f"{text!r} is not a number")
    value = int(text)
    if not low <= value <= high:
        raise _EvaluationError(f"{text!r} is out of range")
    return value


def _parse_java_double(text: str) -> float:
    match = _JAVA_DOUBLE.fullmatch(text)
    if match is None:
        raise _EvaluationError(f"{text!r} is not a number")
    body = text.strip("".join(chr(code) for code in range(33))).rstrip("fFdD")
    if body.endswith("Infinity"):
        return -math.inf if body.startswith("-") else math.inf
    if body.endswith("NaN"):
        return math.nan
    return float(body)


def _convert_string(text: str, kind: str) -> Value:
    if kind == "int":
        return _parse_java_int(text, _INT_MIN, _INT_MAX)
    if kind == "long":
        return _parse_java_int(text, _LONG_MIN, _LONG_MAX)
    if kind == "double":
        return _parse_java_double(text)
    return text.lower() == "true"  # bool: Java Boolean.valueOf


def _compare_doubles(left: float, right: float) -> int:
    # Java Double#compareTo: NaN above everything and equal to itself; -0.0 below 0.0.
    if math.isnan(left) or math.isnan(right):
        return (math.isnan(left) > math.isnan(right)) - (math.isnan(left) < math.isnan(right))
    if left == right == 0.0:
        return (math.copysign(1, left) > math.copysign(1, right)) - (
            math.copysign(1, left) < math.copysign(1, right)
        )
    return (left > right) - (left < right)


def _java_compare(left: Any, right: Any) -> int:
    """Java ComparisonExpression#__compare with string conversion on (the broker's setting)."""
    left_kind, right_kind = _kind(left), _kind(right)
    if left_kind != right_kind:
        if left_kind == "bool":
            if right_kind == "str":
                # Java casts the Boolean to String here and throws ClassCastException.
                raise _EvaluationError("a boolean cannot be compared with a string")
            return -1
        if left_kind in ("int", "long", "double"):
            if right_kind == "str":
                right = _convert_string(right, left_kind)
            elif right_kind == "bool":
                return -1
            elif "double" in (left_kind, right_kind):
                left, right = float(left), float(right)
        elif right_kind != "str":  # left is a string
            left = _convert_string(left, right_kind)
        else:  # pragma: no cover - equal kinds do not reach here
            return -1
    if isinstance(left, float):
        return _compare_doubles(left, float(right))
    return int((left > right) - (left < right))


# -- compiled nodes ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Node:
    evaluate: Evaluator
    #: Java BooleanExpression (comparisons, AND/OR/NOT, IN, TRUE/FALSE/NULL, casts).
    is_boolean: bool = False
    #: Java ConstantExpression (a literal, possibly in parentheses or after unary plus).
    is_constant: bool = False
    constant: Any = None
    #: Java PropertyExpression.
    property_name: str | None = None
    #: Text for error messages.
    text: str = ""


def _constant(value: Any, text: str, *, is_boolean: bool = False) -> _Node:
    return _Node(
        lambda _properties: value, is_boolean=is_boolean, is_constant=True, constant=value, text=text
    )


def _as_boolean(node: _Node) -> _Node:
    """Java SelectorParser#asBooleanExpression."""
    if node.is_boolean:
        return node
    if node.property_name is not None:
        name = node.property_name

        def cast(properties: Properties) -> Any:
            # Java UnaryExpression#createBooleanCast: NULL stays NULL, a non-Boolean is FALSE, and
            # properties are always strings.
            return None if properties.get(name) is None else False

        return _Node(cast, is_boolean=True, text=node.text)
    raise Sql92Error(f"{node.text} is not a condition (it does not result in TRUE or FALSE)")


def _check_orderable(node: _Node) -> None:
    """Java ComparisonExpression#checkLessThanOperand."""
    if node.is_constant:
        if type(node.constant) in (int, JavaLong, float):
            return
        raise Sql92Error(f"value {node.text} cannot be compared with <, <=, >, >= or BETWEEN")
    if node.is_boolean:
        raise Sql92Error(f"value {node.text} cannot be compared with <, <=, >, >= or BETWEEN")


def _literal_value(node: _Node) -> tuple[bool, Any]:
    """(True, value) when `node` always gives the same value (a literal, folded or not)."""
    if node.is_constant or node.constant is _FOLDED:
        return True, node.evaluate({})
    return False, None


def _equal_property_to_literal(name: str, literal: Any) -> Evaluator | None:
    """Fast path for `prop = literal`, the commonest condition; same results as `_equal`."""
    kind = _kind(literal)
    if literal is None:
        return None
    if kind == "str":
        return lambda properties: None if (value := properties.get(name)) is None else value == literal
    if kind == "double":
        return lambda properties: (
            None
            if (value := properties.get(name)) is None
            else _compare_doubles(_parse_java_double(value), literal) == 0
        )
    return lambda properties: (
        None if (value := properties.get(name)) is None else _convert_string(value, kind) == literal
    )


def _equal(left: _Node, right: _Node) -> _Node:
    text = f"{left.text} = {right.text}"
    is_literal, literal = _literal_value(right)
    if left.property_name is not None and is_literal:
        fast = _equal_property_to_literal(left.property_name, literal)
        if fast is not None:
            return _Node(fast, is_boolean=True, text=text)
    evaluate_left, evaluate_right = left.evaluate, right.evaluate

    def equal(properties: Properties) -> Any:
        left_value = evaluate_left(properties)
        right_value = evaluate_right(properties)
        if left_value is None or right_value is None:
            if left_value is None and right_value is None:
                return True
            return None if left_value is None else False
        if type(left_value) is type(right_value) and left_value == right_value:
            return True
        return _java_compare(left_value, right_value) == 0

    return _Node(equal, is_boolean=True, text=text)


def _not(node: _Node) -> _Node:
    evaluate = node.evaluate

    def negation(properties: Properties) -> Any:
        value = evaluate(properties)
        if value is None:
            return None
        return not value

    return _Node(negation, is_boolean=True, text=f"NOT {node.text}")


_ORDER_TESTS: Final[dict[str, Callable[[int], bool]]] = {
    ">": lambda answer: answer > 0,
    ">=": lambda answer: answer >= 0,
    "<": lambda answer: answer < 0,
    "<=": lambda answer: answer <= 0,
}


_INTEGER_ORDER: Final[dict[str, Callable[[Any, Any], bool]]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def _order(symbol: str, left: _Node, right: _Node) -> _Node:
    _check_orderable(left)
    _check_orderable(right)
    test = _ORDER_TESTS[symbol]
    text = f"{left.text} {symbol} {right.text}"
    is_literal, literal = _literal_value(right)
    if left.property_name is not None and is_literal and type(literal) in (int, JavaLong):
        # Fast path for `prop > 5`: the property converts to the literal's integer type.
        name, kind, compare = left.property_name, _kind(literal), _INTEGER_ORDER[symbol]
        return _Node(
            lambda properties: (
                None
                if (value := properties.get(name)) is None
                else compare(_convert_string(value, kind), literal)
            ),
            is_boolean=True,
            text=text,
        )
    evaluate_left, evaluate_right = left.evaluate, right.evaluate

    def order(properties: Properties) -> Any:
        left_value = evaluate_left(properties)
        if left_value is None:
            return None
        right_value = evaluate_right(properties)
        if right_value is None:
            return None
        if type(left_value) is str and type(right_value) is str:
            return test(_compare_doubles(_parse_java_double(left_value), _parse_java_double(right_value)))
        return test(_java_compare(left_value, right_value))

    return _Node(order, is_boolean=True, text=text)


def _and(left: _Node, right: _Node) -> _Node:
    evaluate_left, evaluate_right = _as_boolean(left).evaluate, _as_boolean(right).evaluate

    def conjunction(properties: Properties) -> Any:
        left_value = evaluate_left(properties)
        if left_value is False:
            return False
        right_value = evaluate_right(properties)
        if right_value is False:
            return False
        if left_value is None or right_value is None:
            return None
        return True

    return _Node(conjunction, is_boolean=True, text=f"{left.text} AND {right.text}")


def _or(left: _Node, right: _Node) -> _Node:
    evaluate_left, evaluate_right = _as_boolean(left).evaluate, _as_boolean(right).evaluate

    def disjunction(properties: Properties) -> Any:
        left_value = evaluate_left(properties)
        if left_value is True:
            return True
        right_value = evaluate_right(properties)
        if right_value is True:
            return True
        if left_value is None or right_value is None:
            return None
        return False

    return _Node(disjunction, is_boolean=True, text=f"{left.text} OR {right.text}")


def _in(left: _Node, values: list[str], negated: bool) -> _Node:
    name = left.property_name
    if name is None:
        raise Sql92Error(f"IN needs a property on its left, not {left.text}")
    members = frozenset(values)

    def membership(properties: Properties) -> Any:
        value = properties.get(name)
        if value is None:
            return None
        return (value in members) != negated

    keyword = "NOT IN" if negated else "IN"
    listed = ", ".join(_quote(value) for value in values)
    return _Node(membership, is_boolean=True, text=f"{name} {keyword} ({listed})")


def _negate(node: _Node) -> _Node:
    """Java UnaryExpression#createNegate: numbers change sign, anything else becomes NULL."""

    def negative(value: Any) -> Any:
        if type(value) is JavaLong:
            return JavaLong(-value)
        if type(value) in (int, float):
            return -value
        return None

    text = f"-{node.text}"
    if node.is_constant or node.constant is _FOLDED:
        value = negative(node.evaluate({}))
        # Folded once, but not a Java ConstantExpression (it is a UnaryExpression): the literal
        # checks of BETWEEN and of comparisons do not apply to it, so is_constant stays False.
        return _Node(lambda _properties: value, text=text, constant=_FOLDED)
    evaluate = node.evaluate
    return _Node(lambda properties: negative(evaluate(properties)), text=text)


_FOLDED: Final = object()


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# -- grammar ----------------------------------------------------------------------------------------
_GRAMMAR = r"""
?start: or_expr

?or_expr: and_expr
        | or_expr OR and_expr                    -> or_

?and_expr: eq_expr
         | and_expr AND eq_expr                  -> and_

?eq_expr: cmp_expr
        | eq_expr "=" cmp_expr                   -> eq
        | eq_expr "<>" cmp_expr                  -> ne
        | eq_expr IS NULL                        -> is_null
        | eq_expr IS NOT NULL                    -> is_not_null

?cmp_expr: unary
         | cmp_expr ">" unary                    -> gt
         | cmp_expr ">=" unary                   -> ge
         | cmp_expr "<" unary                    -> lt
         | cmp_expr "<=" unary                   -> le
         | cmp_expr BETWEEN unary AND unary      -> between
         | cmp_expr NOT BETWEEN unary AND unary  -> not_between
         | cmp_expr IN "(" string_list ")"       -> in_
         | cmp_expr NOT IN "(" string_list ")"   -> not_in

string_list: STRING ("," STRING)*

?unary: "+" unary
      | "-" unary                                -> negate
      | NOT unary                                -> not_
      | primary

?primary: STRING                                 -> string
        | DECIMAL                                -> decimal
        | FLOAT                                  -> float_
        | TRUE                                   -> true
        | FALSE                                  -> false
        | NULL                                   -> null
        | ID                                     -> property
        | "(" or_expr ")"

NOT: "not"i
AND: "and"i
OR: "or"i
BETWEEN: "between"i
IN: "in"i
TRUE: "true"i
FALSE: "false"i
NULL: "null"i
IS: "is"i

ID: /[a-z_$][a-z0-9_$]*/i
FLOAT.2: /([0-9]+\.[0-9]*(e[+-]?[0-9]+)?|\.[0-9]+(e[+-]?[0-9]+)?|[0-9]+e[+-]?[0-9]+)/i
DECIMAL: /(0|[1-9][0-9]*l?)/i
STRING: /'([^']|'')*'/

%ignore /[ \t\n\r\f]+/
%ignore /--[^\n\r]*(\r\n|\n|\r)/
%ignore /\/\*[^*]*\*+([^\/*][^*]*\*+)*\//
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", maybe_placeholders=False)

_TERMINAL_NAMES: Final = {
    "ID": "a property name",
    "STRING": "a 'string'",
    "DECIMAL": "a number",
    "FLOAT": "a number",
    "LPAR": "(",
    "RPAR": ")",
    "COMMA": ",",
    "EQUAL": "=",
    "MORETHAN": ">",
    "LESSTHAN": "<",
    "PLUS": "+",
    "MINUS": "-",
    "$END": "the end",
}


@v_args(inline=True)
class _Compiler(Transformer[Token, _Node]):
    def string(self, token: Token) -> _Node:
        return _constant(token[1:-1].replace("''", "'"), str(token))

    def decimal(self, token: Token) -> _Node:
        text = str(token).rstrip("lL")
        value = int(text)
        if value > _LONG_MAX:
            raise Sql92Error(f"the number {token} is larger than a Java long")
        return _constant(value if value <= _INT_MAX else JavaLong(value), str(token))

    def float_(self, token: Token) -> _Node:
        value = float(str(token))
        if math.isinf(value):
            raise Sql92Error(f"the number {token} is larger than a Java double")
        if value < 5e-324:
            # Java ConstantExpression#createFloat compares with Double.MIN_VALUE (the smallest
            # positive double), so 0.0 is refused by RocketMQ too.
            raise Sql92Error(f"the number {token} is less than 4.9E-324 (write 0 for zero)")
        return _constant(value, str(token))

    def true(self, _token: Token) -> _Node:
        return _constant(True, "TRUE", is_boolean=True)

    def false(self, _token: Token) -> _Node:
        return _constant(False, "FALSE", is_boolean=True)

    def null(self, _token: Token) -> _Node:
        return _constant(None, "NULL", is_boolean=True)

    def property(self, token: Token) -> _Node:
        name = str(token)
        return _Node(lambda properties: properties.get(name), property_name=name, text=name)

    def negate(self, node: _Node) -> _Node:
        return _negate(node)

    def not_(self, _keyword: Token, node: _Node) -> _Node:
        return _not(_as_boolean(node))

    def or_(self, left: _Node, _keyword: Token, right: _Node) -> _Node:
        return _or(left, right)

    def and_(self, left: _Node, _keyword: Token, right: _Node) -> _Node:
        return _and(left, right)

    def eq(self, left: _Node, right: _Node) -> _Node:
        for node in (left, right):
            if node.is_constant and node.constant is None:
                raise Sql92Error(f"{node.text} cannot be compared with =; use IS NULL or IS NOT NULL")
        if left.is_constant and right.is_constant and left.is_boolean and not right.is_boolean:
            raise Sql92Error(f"{left.text} cannot be compared with {right.text}")
        return _equal(left, right)

    def ne(self, left: _Node, right: _Node) -> _Node:
        return _not(self.eq(left, right))

    def is_null(self, left: _Node, _is: Token, _null: Token) -> _Node:
        return _equal(left, _constant(None, "NULL", is_boolean=True))

    def is_not_null(self, left: _Node, _is: Token, _not_keyword: Token, _null: Token) -> _Node:
        return _not(_equal(left, _constant(None, "NULL", is_boolean=True)))

    def gt(self, left: _Node, right: _Node) -> _Node:
        return _order(">", left, right)

    def ge(self, left: _Node, right: _Node) -> _Node:
        return _order(">=", left, right)

    def lt(self, left: _Node, right: _Node) -> _Node:
        return _order("<", left, right)

    def le(self, left: _Node, right: _Node) -> _Node:
        return _order("<=", left, right)

    def between(self, value: _Node, _between: Token, low: _Node, _and_keyword: Token, high: _Node) -> _Node:
        if low.is_constant and high.is_constant:
            if low.constant is None or high.constant is None:
                raise Sql92Error("the bounds of BETWEEN cannot be NULL")
            try:
                reversed_bounds = _java_compare(high.constant, low.constant) < 0
            except _EvaluationError as error:
                raise Sql92Error(f"the bounds of BETWEEN cannot be compared: {error}") from None
            if reversed_bounds:
                raise Sql92Error(
                    f"the bounds of BETWEEN are reversed: {low.text} must be less than or equal to "
                    f"{high.text}"
                )
        return _and(_order(">=", value, low), _order("<=", value, high))

    def not_between(
        self, value: _Node, _not_keyword: Token, _between: Token, low: _Node, _and_keyword: Token, high: _Node
    ) -> _Node:
        return _or(_order("<", value, low), _order(">", value, high))

    def string_list(self, *tokens: Token) -> list[str]:
        return [token[1:-1].replace("''", "'") for token in tokens]

    def in_(self, left: _Node, _in_keyword: Token, values: list[str]) -> _Node:
        return _in(left, values, negated=False)

    def not_in(self, left: _Node, _not_keyword: Token, _in_keyword: Token, values: list[str]) -> _Node:
        return _in(left, values, negated=True)


def _describe_expected(expected: set[str]) -> str:
    names: set[str] = set()
    for name in expected:
        if name in _TERMINAL_NAMES:
            names.add(_TERMINAL_NAMES[name])
            continue
        try:
            pattern = _PARSER.get_terminal(name).pattern
        except KeyError:
            names.add(name)
            continue
        names.add(pattern.value.upper() if pattern.type == "str" else name)
    return " or ".join(sorted(names))


def _syntax_error(expression: str, error: UnexpectedInput) -> Sql92Error:
    column = getattr(error, "column", None)
    where = f" at column {column}" if isinstance(column, int) and column > 0 else ""
    if isinstance(error, UnexpectedEOF) or (
        isinstance(error, UnexpectedToken) and error.token.type == "$END"
    ):
        expected = _describe_expected(set(getattr(error, "expected", ()) or ()))
        return Sql92Error(f"invalid SQL92 expression {expression!r}: it ends too early; expected {expected}")
    if isinstance(error, UnexpectedToken):
        expected = _describe_expected(set(error.expected))
        return Sql92Error(
            f"invalid SQL92 expression {expression!r}{where}: unexpected {str(error.token)!r}; "
            f"expected {expected}"
        )
    if isinstance(error, UnexpectedCharacters):
        return Sql92Error(
            f"invalid SQL92 expression {expression!r}{where}: unexpected character {error.char!r}"
        )
    return Sql92Error(f"invalid SQL92 expression {expression!r}{where}")


@dataclass(frozen=True, slots=True)
class Sql92Filter:
    """A compiled SQL92 expression. `evaluate` gives TRUE, FALSE or NULL (None) for a message's
    properties and raises Sql92Error when RocketMQ's evaluation would throw; `matches` is what the
    broker uses (TRUE only; a failed evaluation does not match)."""

    expression: str
    _evaluate: Evaluator

    def evaluate(self, properties: Properties) -> bool | None:
        try:
            value = self._evaluate(properties)
        except _EvaluationError as error:
            raise Sql92Error(f"{self.expression!r} cannot be evaluated: {error}") from None
        return value if value is None or type(value) is bool else None

    def matches(self, properties: Properties | None) -> bool:
        try:
            return self._evaluate(properties if properties is not None else {}) is True
        except _EvaluationError:
            return False


def compile_sql92(expression: str) -> Sql92Filter:
    """Parse and compile `expression`; raises Sql92Error with the reason when it is not valid.
    Compiled filters are immutable and cached by text (Java SelectorParser keeps a parse cache
    too): every consumer of a group heartbeats the same expression."""
    if expression is None or not expression.strip():
        raise Sql92Error("an SQL92 expression cannot be empty")
    return _compile_cached(expression)


@functools.lru_cache(maxsize=256)
def _compile_cached(expression: str) -> Sql92Filter:
    if not expression.strip():
        raise Sql92Error("an SQL92 expression cannot be empty")
    try:
        tree = _PARSER.parse(expression)
    except UnexpectedInput as error:
        raise _syntax_error(expression, error) from None
    try:
        node = _Compiler().transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, Sql92Error):
            raise Sql92Error(f"invalid SQL92 expression {expression!r}: {error.orig_exc}") from None
        raise
    try:
        condition = _as_boolean(node)
    except Sql92Error as error:
        raise Sql92Error(f"invalid SQL92 expression {expression!r}: {error}") from None
    return Sql92Filter(expression, condition.evaluate)
