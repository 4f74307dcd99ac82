"""The import mapping: a legacy CSV or JSON-lines file in, canonical records (or reasons) out.

No server here: what is sent, and what the server answers, is tested against a real one
in tests/integration/test_import.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from preference_sdk._import import ImportMappingError, _Reader, load_mapping, read_records
from preference_sdk._models import CenterInfo

CENTER = CenterInfo.from_json({
    "id": "maison-lumiere", "name": "Maison Lumière", "locales": ["fr", "en"], "default_locale": "fr",
    "notice_version": "2026-11-01",
    "topics": [
        {"id": "offers", "kind": "marketing", "channels": ["email", "sms", "push"],
         "frequencies": ["realtime", "weekly", "monthly"], "default_frequency": "weekly"},
        {"id": "inspirations", "kind": "marketing", "channels": ["email", "post"],
         "frequencies": ["weekly", "monthly"], "default_frequency": "monthly"},
        {"id": "orders", "kind": "required", "channels": ["email", "sms"]},
    ],
    "interests": [{"id": "garden", "label": {}}, {"id": "lighting", "label": {}}],
})

MAPPING = {
    "legacy_source": "old-esp",
    "date_formats": ["%d/%m/%Y", "%d/%m/%Y %H:%M"],
    "timezone": "Europe/Paris",
    "columns": {"external_id": "Id", "email": "Mail", "locale": "Lang", "legacy_date": "Since",
                "offers.email": "News", "offers.sms": "Sms", "frequency.offers": "Freq", "interests": "Tags",
                "suppressed": "Unsub"},
    "values": {"states": {"Y": "opted_in", "N": "opted_out"}, "offers.sms": {"1": "opted_in", "0": "opted_out",
                                                                             "": "unknown"},
               "locale": {"FR": "fr", "EN": "en"}, "frequency.offers": {"W": "weekly"},
               "interests": {"Jardin": "garden", "Lampes": "lighting"}},
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def records(path: Path, mapping) -> list:
    return list(read_records(path, mapping))


def test_a_csv_row_becomes_a_canonical_record(tmp_path) -> None:
    path = write(tmp_path, "legacy.csv", "Id,Mail,Lang,Since,News,Sms,Freq,Tags,Unsub\n"
                                         "C1, ana@example.org ,FR,02/04/2019,Y,1,W,Jardin; lampes,no\n")
    [(row, record)] = records(path, MAPPING)
    assert row == 2  # the header is row 1, as a spreadsheet shows it
    assert record == {
        "row": 2, "legacy_source": "old-esp", "external_id": "C1", "email": "ana@example.org", "locale": "fr",
        "legacy_date": "2019-04-02", "subscriptions": {"offers": {"email": "opted_in", "sms": "opted_in"}},
        "frequencies": {"offers": "weekly"}, "interests": ["garden", "lighting"], "suppressed": False,
    }


def test_a_country_column_is_a_field_mapped_like_the_others(tmp_path) -> None:
    path = write(tmp_path, "legacy.csv", "Id,Pays\nC1,France\nC2,\n")
    mapping = {"columns": {"external_id": "Id", "country": "Pays"}, "values": {"country": {"France": "FR"}}}
    assert [record for _, record in records(path, mapping)] == [
        {"row": 2, "external_id": "C1", "country": "FR"}, {"row": 3, "external_id": "C2"}]


def test_empty_cells_give_nothing_unless_mapped(tmp_path) -> None:
    path = write(tmp_path, "legacy.csv", "Id,Mail,Lang,Since,News,Sms,Freq,Tags,Unsub\nC1,,,,,,,,\n")
    [(_, record)] = records(path, MAPPING)
    assert record == {"row": 2, "legacy_source": "old-esp", "external_id": "C1",
                      "subscriptions": {"offers": {"sms": "unknown"}}}  # "" is listed for Sms only


def test_times_without_an_offset_take_the_mapping_time_zone(tmp_path) -> None:
    path = write(tmp_path, "legacy.csv", "Id,Since\nC1,02/07/2019 10:30\nC2,02/01/2019 10:30\n")
    found = records(path, {"date_formats": ["%d/%m/%Y %H:%M"], "timezone": "Europe/Paris",
                           "columns": {"external_id": "Id", "legacy_date": "Since"}})
    assert [r["legacy_date"] for _, r in found] == ["2019-07-02T08:30:00Z", "2019-01-02T09:30:00Z"]
    iso = write(tmp_path, "iso.csv", "Id,Since\nC1,2019-04-02\nC2,2019-04-02T10:00:00+02:00\nC3,2019-04-02T10:00\n")
    found = records(iso, {"columns": {"external_id": "Id", "legacy_date": "Since"}})
    assert [r["legacy_date"] for _, r in found] == ["2019-04-02", "2019-04-02T08:00:00Z", "2019-04-02T10:00:00Z"]


def test_rows_the_mapping_cannot_read_are_rejected_with_their_row(tmp_path) -> None:
    path = write(tmp_path, "legacy.csv", "Id,Mail,Lang,Since,News,Sms,Freq,Tags,Unsub\n"
                                         "C1,a@example.org,FR,31/02/2019,Y,,,,\n"
                                         "C2,,FR,,Maybe,,,,\n"
                                         "C3,,de,,,,,,\n"
                                         "C4,,,,,,,Jardin;Cuisine,\n"
                                         "C5,,,,,,,,perhaps\n"
                                         "C6,a@example.org,fr,,y,,,,\n"
                                         ",,,,,,,,\n"
                                         "C6,,,,,,,,\n"
                                         "C7,A@Example.org,,,,,,,\n")
    found = dict(records(path, MAPPING))
    assert found[2] == "row 2: column Since: '31/02/2019' is not a date (%d/%m/%Y, %d/%m/%Y %H:%M)"
    assert found[3] == "row 3: column News: 'Maybe' is not in values.offers.email ('N', 'Y')"
    assert found[4] == "row 4: column Lang: 'de' is not in values.locale ('EN', 'FR')"
    assert found[5] == "row 5: column Tags: 'Cuisine' is not in values.interests ('Jardin', 'Lampes')"
    assert found[6].startswith("row 6: column Unsub: 'perhaps' is not yes or no")
    assert found[7]["locale"] == "fr"  # a map matches in any case
    assert found[7]["subscriptions"] == {"offers": {"email": "opted_in", "sms": "unknown"}}  # "" is mapped for Sms
    assert found[8] == "row 8: external_id: empty"
    assert found[9] == "row 9: external_id: already in row 7"
    assert found[10] == "row 10: email: already in row 7"  # row 2 was rejected here: it claims nothing


def test_without_columns_the_header_names_fields_and_paths(tmp_path) -> None:
    path = write(tmp_path, "plain.csv", "external_id,email,offers.email,frequency.offers,interests,notes\n"
                                        "C1,a@example.org,opted_in,weekly,garden;lighting,call her\n")
    [(_, record)] = records(path, None)
    assert record == {"row": 2, "external_id": "C1", "email": "a@example.org",
                      "subscriptions": {"offers": {"email": "opted_in"}}, "frequencies": {"offers": "weekly"},
                      "interests": ["garden", "lighting"]}
    reader = _Reader(path, None)
    reader.check(CENTER)
    assert len(list(reader.rows())) == 1
    bad = write(tmp_path, "bad.csv", "external_id,offers.fax\nC1,opted_in\n")
    reader = _Reader(bad, None)
    reader.check(CENTER)
    with pytest.raises(ImportMappingError, match="offers.fax: this topic is offered on email, sms, push"):
        list(reader.rows())


def test_json_lines_canonical_or_mapped(tmp_path) -> None:
    lines = [{"external_id": "C1", "subscriptions": {"offers": {"email": "opted_in"}}}, [1, 2],
             {"Id": 42, "News": "Y", "Tags": ["Jardin"], "Unsub": True}]
    text = "\n".join(json.dumps(line) for line in lines) + "\n\n{not json\n"
    path = write(tmp_path, "legacy.jsonl", text)
    found = dict(records(path, None))
    assert found[1] == {"external_id": "C1", "subscriptions": {"offers": {"email": "opted_in"}}, "row": 1}
    assert found[2] == "row 2: not a JSON object"
    assert found[3] == "row 3: external_id: empty"  # canonical records need theirs
    assert found[5].startswith("row 5: not JSON")
    mapped = dict(records(path, {"columns": {"external_id": "Id", "offers.email": "News", "interests": "Tags",
                                             "suppressed": "Unsub"},
                                 "values": {"states": {"Y": "opted_in"}, "interests": {"Jardin": "garden"}}}))
    assert mapped[3] == {"row": 3, "external_id": "42", "subscriptions": {"offers": {"email": "opted_in"}},
                         "interests": ["garden"], "suppressed": True}
    assert mapped[1] == "row 1: external_id: empty"


def test_batches_carry_the_rows_rejected_here(tmp_path) -> None:
    body = "Id,News\n" + "".join(f"C{n},{'Y' if n % 4 else '?'}\n" for n in range(10))
    reader = _Reader(write(tmp_path, "legacy.csv", body), {"columns": {"external_id": "Id", "offers.email": "News"},
                                                           "values": {"states": {"Y": "opted_in"}}})
    batches = list(reader.batches(3))
    assert [len(records) for records, _, _ in batches] == [3, 3, 1]
    assert sum(rows for _, _, rows in batches) == 10
    assert [row for _, rejected, _ in batches for row, _ in rejected] == [2, 6, 10]


def test_the_mapping_is_checked_against_the_center() -> None:
    reader = _Reader(Path("legacy.csv"), {
        "columns": {"external_id": "Id", "offers.fax": "A", "nope.email": "B", "frequency.orders": "C",
                    "colour": "D"},
        "values": {"states": {"Y": "yes"}, "frequency.offers": {"D": "daily"}, "interests": {"A": "astrology"},
                   "locale": {"DE": "de"}},
    })
    with pytest.raises(ImportMappingError) as raised:
        reader.check(CENTER)
    message = str(raised.value)
    for part in ("offers.fax: this topic is offered on email, sms, push", "nope.email: no topic 'nope'",
                 "frequency.orders: this topic offers no frequency choice", "colour: not a field",
                 "values.states: 'yes' not offered", "values.frequency.offers: 'daily' not offered",
                 "values.interests: 'astrology' not offered", "values.locale: 'de' not offered"):
        assert part in message
    _Reader(Path("legacy.csv"), MAPPING).check(CENTER)  # a good one passes


@pytest.mark.parametrize("mapping, message", [
    ({"colums": {}}, "unknown mapping keys"),
    ({"columns": {"email": "Mail"}}, "columns.external_id is required"),
    ({"format": "xlsx"}, "format must be csv or jsonl"),
    ({"timezone": "Mars/Olympus"}, "no time zone named"),
    # The wrong type or shape: once a TypeError, LookupError or AttributeError from deep inside.
    ({"delimiter": ";;"}, "delimiter must be one character"),
    ({"delimiter": 59}, "delimiter must be one character"),
    ({"encoding": "latin-9x"}, "'latin-9x' is not a text encoding"),
    ({"encoding": "rot13"}, "'rot13' is not a text encoding"),
    ({"timezone": 5}, "timezone must be a time zone name"),
    ({"columns": {"external_id": 7}}, "columns.external_id must be the name of a column"),
    ({"columns": ["external_id"]}, "columns must be a table"),
    ({"separator": ""}, "separator must be a non-empty string"),
    ({"legacy_source": 3}, "legacy_source must be a non-empty string"),
    ({"date_formats": 5}, "date_formats must be a list of strings"),
    ({"date_formats": ["%d/%m/%Y", None]}, "date_formats must be a non-empty string"),
    ({"values": {"states": "Y"}}, "values must be a table"),
])
def test_mistakes_in_a_mapping_are_named(mapping, message) -> None:
    with pytest.raises(ImportMappingError, match=message):
        _Reader(Path("legacy.csv"), mapping)


def test_one_date_format_alone_is_one_format_not_its_characters(tmp_path) -> None:
    path = write(tmp_path, "legacy.csv", "Id,Since\nC1,02/04/2019\n")
    mapping = {"date_formats": "%d/%m/%Y", "columns": {"external_id": "Id", "legacy_date": "Since"}}
    [(_, record)] = records(path, mapping)
    assert record["legacy_date"] == "2019-04-02"


@pytest.mark.parametrize("header, twice", [
    ("external_id,offers.email,offers.email", "offers.email"),  # the canonical names
    ("Id,News,Mail,News", "News"),  # a mapped column
])
def test_a_header_naming_a_column_twice_is_refused(tmp_path, header, twice) -> None:
    cells = ["C1", "opted_in", "opted_out", "x"][:header.count(",") + 1]
    path = write(tmp_path, "legacy.csv", f"{header}\n" + ",".join(cells) + "\n")
    mapping = None if header.startswith("external_id") else {"columns": {"external_id": "Id", "offers.email": "News"}}
    with pytest.raises(ImportMappingError, match=f"legacy.csv has more than one column named {twice}"):
        records(path, mapping)
    records(write(tmp_path, "notes.csv", "Id,Notes,Notes\nC1,a,b\n"), {"columns": {"external_id": "Id"}})  # unmapped


def test_a_cell_too_large_names_its_row_and_a_large_one_is_read(tmp_path) -> None:
    big = "x" * 200_000  # over the csv module's default limit (128 KB)
    path = write(tmp_path, "legacy.csv", f"Id,Notes\nC1,a\nC2,{big}\nC3,b\n")
    assert [row for row, _ in records(path, {"columns": {"external_id": "Id"}})] == [2, 3, 4]
    path = write(tmp_path, "open.csv", 'Id,Notes\nC1,a\nC2,"never closed\n' + "y" * 1_100_000 + "\nC3,b\n")
    with pytest.raises(ImportMappingError, match=r"open.csv: row 3 cannot be read as CSV .*quote left open"):
        records(path, {"columns": {"external_id": "Id"}})


@pytest.mark.parametrize("name, body", [
    ("legacy.csv", "Id,Nom\nC1,Andr\xe9\nC2,Zo\xe9\n".encode("latin-1")),
    ("legacy.jsonl", '{"external_id": "C1"}\n{"external_id": "C2", "nom": "Andr\xe9"}\n'.encode("latin-1")),
])
def test_a_file_in_another_encoding_says_where_and_what_to_set(tmp_path, name, body) -> None:
    path = tmp_path / name
    path.write_bytes(body)
    with pytest.raises(ImportMappingError) as raised:
        records(path, {"columns": {"external_id": "Id"}} if name.endswith(".csv") else None)
    assert str(raised.value).startswith(f"{name}: line 2 is not utf-8-sig text (byte 0xe9)")
    assert 'encoding = "cp1252"' in str(raised.value)
    assert len(records(path, {"encoding": "latin-1", **({"columns": {"external_id": "Id"}}
                                                        if name.endswith(".csv") else {})})) == 2


def test_a_missing_column_is_named_before_anything_is_read(tmp_path) -> None:
    path = write(tmp_path, "legacy.csv", "Id,Mail\nC1,a@example.org\n")
    with pytest.raises(ImportMappingError, match="columns not in legacy.csv: News"):
        records(path, {"columns": {"external_id": "Id", "offers.email": "News"}})
    with pytest.raises(ImportMappingError, match='say format = "csv" or "jsonl"'):
        records(write(tmp_path, "legacy.txt", "Id\n"), {"columns": {"external_id": "Id"}})


def test_mappings_load_from_toml_and_json(tmp_path) -> None:
    toml = write(tmp_path, "m.toml", 'legacy_source = "old"\n[columns]\nexternal_id = "Id"\n'
                                     '"offers.email" = "News"\n[values]\nstates = {Y = "opted_in"}\n')
    as_json = write(tmp_path, "m.json", json.dumps(load_mapping(toml)))
    assert load_mapping(toml) == load_mapping(as_json) == {
        "legacy_source": "old", "columns": {"external_id": "Id", "offers.email": "News"},
        "values": {"states": {"Y": "opted_in"}}}
    with pytest.raises(ImportMappingError, match="m.yaml: a mapping is a .toml or .json file"):
        load_mapping(write(tmp_path, "m.yaml", "a: 1"))
    with pytest.raises(ImportMappingError, match="broken.toml"):
        load_mapping(write(tmp_path, "broken.toml", "columns = {"))
    with pytest.raises(ImportMappingError, match=r"list.json: a mapping is a table of keys \(a JSON object\), not"):
        load_mapping(write(tmp_path, "list.json", '[{"columns": {}}]'))
