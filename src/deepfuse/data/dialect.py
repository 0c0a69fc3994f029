r"""How a CSV/TSV file is written: its encoding, its BOM and its field delimiter.

One rule for every reader (``read_table`` in memory, ``scan_csv`` streaming and ``deepfuse
prepare``): :func:`sniff` looks at the first :data:`SAMPLE_BYTES` of the (decompressed) file.

Encoding (``data.encoding``, default ``auto``):

- a byte-order mark says it: UTF-8 (``utf-8-sig``), UTF-16 LE/BE, UTF-32; the BOM never ends up
  in the first column name; without one, a sample where a quarter of the bytes are NUL is
  UTF-16 (LE or BE by the side the NULs are on);
- else text that is valid UTF-8 is UTF-8;
- else text holding valid multi-byte UTF-8 sequences is UTF-8 with a few damaged bytes: they
  are replaced by U+FFFD and reported (:mod:`deepfuse.data.bad_bytes`);
- else (no UTF-8 sequence at all) the file is a legacy 8-bit file: ``cp1252`` (Windows Western
  European, a superset of printable latin-1) when it decodes, else ``latin-1`` (which always
  decodes).

A named encoding (any Python codec: ``latin-1``, ``cp1252``, ``utf-16``, ``shift_jis``, ...) is
used as given and strictly: a byte it cannot decode is a :class:`DataError` naming the file, the
byte offset, the bytes and the fix. pyarrow transcodes to UTF-8 (``ReadOptions(encoding=...)``);
the row-checking readers read through :func:`open_utf8`.

Delimiter (``data.delimiter``, default ``auto``): ``.tsv`` files use a tab; other files the one
of ``,`` ``;`` tab ``|`` that splits the header into the most columns (at least two) and 90% of
the complete sampled records (up to 100) into the same count, quotes respected (a delimiter
inside a quoted field does not count); a comma when none does (one column stays one column).

Quoted fields may hold newlines (RFC 4180, what pandas writes): ``newlines_in_values`` is on.

Example:
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> _ = open(p, "wb").write("\ufeffid;note\n1;\"a;b\"\n2;café\n".encode("utf-8"))
    >>> d = sniff(p)
    >>> d.encoding, d.delimiter, d.bom
    ('utf-8-sig', ';', True)
    >>> _ = open(p, "wb").write("id,note\n1,café\n".encode("cp1252"))
    >>> sniff(p).encoding
    'cp1252'
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from dataclasses import dataclass
from typing import IO, Any

import pyarrow.csv as pacsv

from deepfuse._utils.errors import ConfigError, DataError, format_message
from deepfuse.data.formats import delimiter_of, open_decompressed

__all__ = [
    "AUTO",
    "DELIMITERS",
    "SAMPLE_BYTES",
    "Dialect",
    "check_delimiter",
    "check_encoding",
    "open_utf8",
    "sniff",
    "undecodable",
]

AUTO = "auto"
#: The delimiters ``auto`` chooses among, in order of preference on a tie.
DELIMITERS = (",", ";", "\t", "|")
#: Bytes of the (decompressed) file :func:`sniff` looks at.
SAMPLE_BYTES = 1 << 20
# Characters of the decoded sample the delimiter is chosen from, and records compared.
_SNIFF_CHARS = 64 << 10
_SNIFF_RECORDS = 100
_CONSISTENT = 0.9  # share of sampled records with the header's count of fields
_EXAMPLES = "auto, utf-8, utf-8-sig, cp1252, latin-1, utf-16, shift_jis"
_UTF8 = ("utf-8", "utf-8-sig")
_BOMS = (  # longest first: a UTF-32 LE BOM starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class Dialect:
    """The encoding and delimiter a CSV/TSV file is read with.

    Attributes:
        encoding: A Python codec name (``utf-8``, ``utf-8-sig``, ``cp1252``, ``utf-16``, ...).
        delimiter: The field separator (one character).
        bom: The file starts with a byte-order mark (it is skipped).
        strict: The encoding was named by the user: an undecodable byte is an error (``auto``
            replaces and reports damaged bytes in UTF-8 files instead).

    Example:
        >>> Dialect("cp1252", ";").read_options().encoding
        'cp1252'
        >>> Dialect("utf-8-sig", ",").parse_options().newlines_in_values
        True
    """

    encoding: str = "utf-8"
    delimiter: str = ","
    bom: bool = False
    strict: bool = False

    @property
    def utf8(self) -> bool:
        """UTF-8 (with or without BOM): pyarrow reads it without transcoding."""
        return self.encoding in _UTF8

    def read_options(self, **options: Any) -> pacsv.ReadOptions:
        """``pyarrow.csv.ReadOptions`` with this encoding (pyarrow skips a UTF-8 BOM itself)."""
        return pacsv.ReadOptions(encoding="utf8" if self.utf8 else self.encoding, **options)

    def parse_options(self, **options: Any) -> pacsv.ParseOptions:
        """``pyarrow.csv.ParseOptions`` with this delimiter; quoted newlines allowed by default."""
        options.setdefault("newlines_in_values", True)
        return pacsv.ParseOptions(delimiter=self.delimiter, **options)


def check_encoding(name: str | None) -> str:
    """``"auto"`` or the normalised Python codec name of ``name``.

    Raises:
        ConfigError: ``name`` is not a text codec Python knows.

    Example:
        >>> check_encoding("Latin-1"), check_encoding(None), check_encoding("UTF8")
        ('iso8859-1', 'auto', 'utf-8')
        >>> check_encoding("klingon")
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.ConfigError: Unknown encoding 'klingon' (data.encoding / --encoding). ...
    """
    if name is None or str(name).strip().lower() == AUTO:
        return AUTO
    try:
        info = codecs.lookup(str(name).strip())
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise ConfigError(
            format_message(
                f"Unknown encoding {name!r} (data.encoding / --encoding).",
                expected=f"auto or a text encoding Python knows, e.g. {_EXAMPLES}",
                fix="Use data.encoding=auto to detect it.",
            )
        )
    return info.name


def check_delimiter(delimiter: str | None) -> str:
    """``"auto"`` or a one-character delimiter (``\\t`` written out is a tab).

    Example:
        >>> check_delimiter("\\\\t"), check_delimiter(None), check_delimiter(";")
        ('\\t', 'auto', ';')
    """
    if delimiter is None or delimiter == AUTO:
        return AUTO
    delimiter = {"\\t": "\t", "tab": "\t"}.get(delimiter, delimiter)
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '\r\n"':
        raise ConfigError(
            format_message(
                "Invalid delimiter (data.delimiter / --delimiter).",
                expected="auto or one character such as ',', ';', '\\t' or '|'",
                got=delimiter,
            )
        )
    return delimiter


def sniff(
    path: str | os.PathLike, *, encoding: str | None = AUTO, delimiter: str | None = AUTO
) -> Dialect:
    """The :class:`Dialect` of a CSV/TSV file (plain or compressed), from its first bytes.

    Args:
        path: The file.
        encoding: ``"auto"`` (detect) or a codec name (used strictly).
        delimiter: ``"auto"`` (sniff; a tab for ``.tsv``) or one character.

    Raises:
        ConfigError: An unknown encoding or an invalid delimiter.
    """
    encoding, delimiter = check_encoding(encoding), check_delimiter(delimiter)
    with open_decompressed(path) as fh:
        sample = fh.read(SAMPLE_BYTES + 1)
    eof = len(sample) <= SAMPLE_BYTES
    sample = sample[:SAMPLE_BYTES]
    bom = next((enc for mark, enc in _BOMS if sample.startswith(mark)), None)
    strict = encoding != AUTO
    if not strict:
        encoding = bom or _guess(sample if eof else sample[: sample.rfind(b"\n") + 1] or sample)
    elif encoding == "utf-8" and bom == "utf-8-sig":
        encoding = "utf-8-sig"  # the BOM is not part of the first column name
    if delimiter == AUTO:
        default = delimiter_of(path)
        delimiter = default if default == "\t" else _sniff_delimiter(sample, encoding, eof)
    return Dialect(encoding, delimiter, bom is not None, strict)


def _guess(sample: bytes) -> str:
    """UTF-16 without BOM (many NUL bytes, on one side), UTF-8 (clean, or damaged but holding
    UTF-8 sequences), else cp1252, else latin-1."""
    if sample.count(0) > len(sample) // 4:  # NUL is valid UTF-8 but never this common in text
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        return "utf-16-le" if odd > even else "utf-16-be"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    text = sample.decode("utf-8", errors="replace")
    if any(ord(c) > 127 and c != "\ufffd" for c in text):  # real UTF-8 sequences: damage
        return "utf-8"
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "iso8859-1"


def _sniff_delimiter(sample: bytes, encoding: str, eof: bool) -> str:
    """The candidate giving the most (>= 2) header columns, as many in 90% of the records."""
    text = sample.decode(encoding, errors="replace")[:_SNIFF_CHARS]
    complete = eof and len(text) < _SNIFF_CHARS
    best, best_width = ",", 1
    for candidate in DELIMITERS:
        records = _records(text, candidate)
        if not complete and len(records) > 1:
            records = records[:-1]  # the last one may be cut by the end of the sample
        if not records or len(records[0]) <= best_width:
            continue
        width, body = len(records[0]), records[1:]
        # the same count in (nearly) every record: one ragged row does not change the delimiter
        if sum(len(r) == width for r in body) >= _CONSISTENT * len(body):
            best, best_width = candidate, width
    return best


def _records(text: str, delimiter: str) -> list[list[str]]:
    """The first records of ``text`` (quotes respected, blank lines skipped)."""
    out: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    try:
        for record in reader:
            if record:
                out.append(record)
            if len(out) > _SNIFF_RECORDS:
                break
    except csv.Error:  # a field over csv's size limit: judge on what was read
        pass
    return out


class _Utf8Reader:
    """A (decompressed) file as UTF-8 bytes: BOM removed, other encodings transcoded.

    Decoding is strict for a transcoded or ``strict`` dialect: the first undecodable byte
    raises :func:`undecodable`'s error, with its byte offset in the decompressed file. A
    lenient UTF-8 dialect passes the bytes through (damaged bytes are reported later).
    """

    def __init__(self, path: str | os.PathLike, dialect: Dialect, label: object) -> None:
        self.path, self.dialect, self.label = path, dialect, label
        self.raw: IO[bytes] = open_decompressed(path)
        self.passthrough = dialect.utf8 and not dialect.strict
        self.decoder = codecs.getincrementaldecoder(dialect.encoding)("strict")
        self.offset = 0  # raw bytes consumed
        self.buffer = b""
        self.started = False

    def _fill(self, n: int) -> bytes:
        raw = self.raw.read(n)
        if not self.started:
            self.started = True
            if self.dialect.utf8 and raw.startswith(codecs.BOM_UTF8):
                self.offset, raw = len(codecs.BOM_UTF8), raw[len(codecs.BOM_UTF8) :]
                if not raw:
                    raw = self.raw.read(n)
        if self.passthrough:
            self.offset += len(raw)
            return raw
        pending = len(self.decoder.getstate()[0])
        try:
            text = self.decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as exc:
            at = self.offset - pending + exc.start
            bad = (exc.object[exc.start : exc.end] if exc.object else b"")[:8]
            raise _decode_error(self.label, self.dialect.encoding, at, bad) from None
        self.offset += len(raw)
        if self.dialect.utf8:  # strict UTF-8: checked, passed through unchanged
            return raw
        out = text.encode("utf-8")
        return out if out or not raw else self._fill(n)  # a partial character: read on

    def read(self, n: int = -1) -> bytes:
        """Up to about ``n`` bytes of UTF-8 (``b""`` only at the end)."""
        if self.buffer:  # what readline read beyond its line
            cut = len(self.buffer) if n < 0 else n
            out, self.buffer = self.buffer[:cut], self.buffer[cut:]
            return out
        return self._fill(n if n > 0 else -1)

    def readline(self, limit: int = -1) -> bytes:
        """One line with its ``\\n`` (at most ``limit`` bytes when ``limit >= 0``)."""
        data = self.buffer
        while b"\n" not in data and (limit < 0 or len(data) < limit):
            more = self._fill(1 << 16)
            if not more:
                break
            data += more
        cut = data.find(b"\n") + 1 or len(data)
        if limit >= 0:
            cut = min(cut, limit)
        self.buffer = data[cut:]
        return data[:cut]

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> _Utf8Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_utf8(
    path: str | os.PathLike, dialect: Dialect | None = None, label: object = None
) -> _Utf8Reader:
    """Open a (compressed) text file as UTF-8 bytes (``read(n)``, ``readline(limit)``).

    Example:
        >>> import os, tempfile
        >>> p = os.path.join(tempfile.mkdtemp(), "t.csv")
        >>> _ = open(p, "wb").write("a\\nné\\n".encode("utf-16"))
        >>> with open_utf8(p, Dialect("utf-16")) as fh:
        ...     fh.read()
        b'a\\nn\\xc3\\xa9\\n'
    """
    return _Utf8Reader(path, dialect or Dialect(), path if label is None else label)


def undecodable(path: str | os.PathLike, dialect: Dialect, label: object = None) -> DataError:
    """The error for the first byte of ``path`` that ``dialect.encoding`` cannot decode.

    Reads the file through (an error path only); a file that decodes gives a generic error.

    Example:
        >>> import os, tempfile
        >>> p = os.path.join(tempfile.mkdtemp(), "t.csv")
        >>> _ = open(p, "wb").write(b"a\\ncaf\\xe9\\n")
        >>> print(undecodable(p, Dialect("utf-8", strict=True)))  # doctest: +ELLIPSIS
        Cannot decode '...t.csv' as utf-8: byte offset 5 holds b'\\xe9', ... (e.g. data.encoding=cp1252, latin-1 or utf-16), ...
    """
    strict = Dialect(dialect.encoding, dialect.delimiter, dialect.bom, strict=True)
    try:
        with open_utf8(path, strict, label) as fh:
            while fh.read(4 << 20):
                pass
    except DataError as err:
        return err
    return DataError(f"Cannot decode '{label or path}' as {dialect.encoding}.")


def _decode_error(label: object, encoding: str, offset: int, bad: bytes) -> DataError:
    others = [
        e for e in ("utf-8", "cp1252", "latin-1", "utf-16") if codecs.lookup(e).name != encoding
    ]
    return DataError(
        format_message(
            f"Cannot decode '{label}' as {encoding}: byte offset {offset:,} holds {bad!r}, "
            f"which is not valid {encoding} (offsets count bytes of the decompressed file).",
            expected=f"a file written in {encoding}",
            fix=f"Set data.encoding to the file's real encoding (e.g. data.encoding={others[0]}, "
            f"{others[1]} or {others[2]}), or data.encoding=auto to detect it (deepfuse "
            "prepare: --encoding).",
        )
    )
