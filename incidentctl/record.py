"""A base for small records, compared and shown by value, without importing typing.

`typing.NamedTuple` costs the `log` command the import of typing (several ms) plus
about half a millisecond per class; the records `log` touches derive from this.
"""

from __future__ import annotations


class Record:
    """Fields named in `__slots__`; equal when of the same type with equal fields."""

    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Record)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"
