"""The one CSV writer: header, quoting, formula guard, streaming, and the format parameter."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from flask import Flask

from growth import csvout
from growth.errors import InvalidRequest


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_formula_cells_are_prefixed_and_numbers_are_not():
    rows = [['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tcmd", "plain", -3, 1.5, None, True]]
    text = "".join(csvout.iter_csv(list("abcdefghij"), rows))
    assert parse(text)[1] == [
        '\'=HYPERLINK("http://x")',
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tcmd",
        "plain",
        "-3",
        "1.5",
        "",
        "true",
    ]


def test_quoting_commas_quotes_newlines_and_unicode_round_trip():
    tricky = ['Ann, "the" reader', "two\nlines", "Zoë 東京"]
    text = "".join(csvout.iter_csv(["x", "y", "z"], [tricky]))
    assert parse(text) == [["x", "y", "z"], tricky]
    assert text.startswith("x,y,z\r\n")


def test_mapping_rows_follow_the_header_and_dates_are_iso():
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    text = "".join(csvout.iter_csv(["id", "when", "missing"], [{"when": when, "id": 7}]))
    assert parse(text)[1] == ["7", "2026-01-02T03:04:05+00:00", ""]


def test_rows_are_produced_lazily():
    def endless():
        n = 0
        while True:
            n += 1
            yield [n]

    lines = csvout.iter_csv(["n"], endless())
    assert [next(lines) for _ in range(3)] == ["n\r\n", "1\r\n", "2\r\n"]


def test_response_is_utf8_csv_and_format_is_checked():
    app = Flask(__name__)
    with app.test_request_context("/?format=csv"):
        assert csvout.wants_csv() is True
        response = csvout.csv_response('re"port.csv', ["a"], [["é"]])
        assert response.content_type == "text/csv; charset=utf-8"
        assert response.headers["Content-Disposition"] == 'attachment; filename="report.csv"'
    with app.test_request_context("/"):
        assert csvout.wants_csv() is False
    with app.test_request_context("/?format=xml"), pytest.raises(InvalidRequest):
        csvout.wants_csv()
