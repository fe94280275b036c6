"""Sigma conditions on the fields pukara knows (:mod:`pukara.store.cluster.detection`):
string conditions go to the fields' lower-case twins, the same way on both stores."""

from __future__ import annotations

import copy

from sigma.conditions import ConditionFieldEqualsValueExpression
from sigma.types import SigmaString

from pukara.store.cluster.detection import (
    FIELDS,
    FOLDED_SUFFIX,
    KEYWORD_LIMIT,
    MULTI_VALUED,
    STRING_TYPES,
    TEXT_LIMIT,
    FieldType,
    field_type,
    string_limit,
)

__all__ = [
    "FIELDS", "FOLDED_SUFFIX", "KEYWORD_LIMIT", "MULTI_VALUED", "STRING_TYPES", "TEXT_LIMIT",
    "FieldType", "field_type", "fold", "string_limit",
]  # fmt: skip


def fold(cond: ConditionFieldEqualsValueExpression) -> ConditionFieldEqualsValueExpression:
    """A string condition on a string field, as a condition on the field's lower-case twin
    with the value in lower case: Sigma matches strings case-insensitively, and this is how
    both stores do it alike (``|cased``, regular expressions and other types are unchanged).
    """
    value = cond.value
    if (
        not cond.field
        or type(value) is not SigmaString
        or FIELDS.get(cond.field) not in STRING_TYPES
    ):
        return cond
    lowered = copy.copy(value)
    lowered.s = [part.lower() if isinstance(part, str) else part for part in value.s]
    folded = copy.copy(cond)  # keeps the parent: a NOT above it still applies
    folded.field, folded.value = cond.field + FOLDED_SUFFIX, lowered
    return folded
