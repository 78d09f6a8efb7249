"""Files that are not a safe .xlsx workbook are refused with one plain, coded problem.

Every bad file is built here in code (raw bytes or a zip), so each case is visible.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl.xml
import pytest
from click.testing import CliRunner

from exposure.cli import main
from exposure.errors import EXIT_INVALID_INPUT, InputError
from exposure.workbook import safe_open
from exposure.workbook.safe_open import OLE2_MAGIC, check_container, open_workbook
from exposure.workbook.validate import check_workbook
from tests import workbooks


def refusal(path: Path) -> InputError:
    """The InputError that reading `path` raises (fails the test if it does not)."""
    with pytest.raises(InputError) as caught:
        check_workbook(path)
    assert len(caught.value.issues) == 1
    return caught.value


def rewrite_part(source: Path, target: Path, part: str, edit: Callable[[bytes], bytes]) -> Path:
    """Copy the zip `source` to `target`, passing the bytes of `part` through `edit`."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        assert part in old.namelist()
        for item in old.infolist():
            data = old.read(item.filename)
            new.writestr(item, edit(data) if item.filename == part else data)
    return target


def validate(path: Path, *options: str):
    return CliRunner().invoke(main, ["validate", str(path), *options])


# --- not an .xlsx at all -------------------------------------------------------


def empty(path: Path) -> None:
    path.write_bytes(b"")


def plain_text(path: Path) -> None:
    path.write_text("source,material,capacity\nCNX,DY,10\n", encoding="utf-8")


def legacy_xls(path: Path) -> None:
    path.write_bytes(OLE2_MAGIC + b"\x00" * 4096)


def encrypted(path: Path) -> None:
    marker = "EncryptionInfo".encode("utf-16-le")
    path.write_bytes(OLE2_MAGIC + b"\x00" * 2000 + marker + b"\x00" * 2000)


def corrupt_zip(path: Path) -> None:
    path.write_bytes(b"PK\x03\x04" + b"this is no zip directory" * 50)


def zip_not_workbook(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
        archive.writestr("data/values.csv", "a,b\n1,2\n")


def zip_bomb(path: Path) -> None:
    # 20 MB of zeros deflates to about 20 KB: a ratio near 1000, well above 200.
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (20 * 1024**2))


CONTAINERS = [
    (empty, "empty-file"),
    (plain_text, "not-xlsx"),
    (legacy_xls, "legacy-xls"),
    (encrypted, "encrypted-workbook"),
    (corrupt_zip, "corrupt-file"),
    (zip_not_workbook, "not-xlsx"),
    (zip_bomb, "zip-bomb"),
]


@pytest.mark.parametrize(("make", "code"), CONTAINERS, ids=[c for _, c in CONTAINERS])
def test_bad_container_is_refused_with_its_code(tmp_path: Path, make, code: str):
    path = tmp_path / "input.xlsx"
    make(path)
    error = refusal(path)
    issue = error.issues[0]
    assert issue.code == code
    assert issue.severity == "error"
    assert issue.sheet is None
    assert issue.place == "workbook"
    assert "input.xlsx" in issue.message
    assert issue.hint or code == "zip-bomb"


@pytest.mark.parametrize(("make", "code"), CONTAINERS, ids=[c for _, c in CONTAINERS])
def test_bad_container_exits_2_from_the_cli(tmp_path: Path, make, code: str):
    path = tmp_path / "input.xlsx"
    make(path)
    result = validate(path)
    assert result.exit_code == EXIT_INVALID_INPUT, result.output
    assert f"[{code}]" in result.output
    assert "workbook: " in result.output
    assert "invalid: 1 error(s)" in result.output


def test_encryption_marker_after_the_first_64_kb_is_not_seen_as_encrypted(tmp_path: Path):
    path = tmp_path / "old.xls"
    marker = "EncryptionInfo".encode("utf-16-le")
    path.write_bytes(OLE2_MAGIC + b"\x00" * (70 * 1024) + marker)
    assert refusal(path).issues[0].code == "legacy-xls"


def test_encrypted_package_marker_is_also_recognised(tmp_path: Path):
    path = tmp_path / "locked.xlsx"
    path.write_bytes(OLE2_MAGIC + b"\x00" * 512 + "EncryptedPackage".encode("utf-16-le"))
    assert refusal(path).issues[0].code == "encrypted-workbook"


def test_missing_file_and_folder_are_refused(tmp_path: Path):
    with pytest.raises(InputError) as caught:
        check_container(tmp_path / "nowhere.xlsx")
    assert caught.value.issues[0].code == "file-not-found"
    with pytest.raises(InputError) as caught:
        check_container(tmp_path)
    assert caught.value.issues[0].code == "not-a-file"


def test_zip_bomb_by_total_size_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Lower the limit rather than writing half a gigabyte.
    monkeypatch.setattr(safe_open, "MAX_UNCOMPRESSED_BYTES", 1024)
    path = workbooks.write(workbooks.tiny(), tmp_path / "tiny.xlsx")
    error = refusal(path)
    assert error.issues[0].code == "zip-bomb"
    assert "would inflate" in error.issues[0].message


def test_too_many_zip_entries_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(safe_open, "MAX_ZIP_ENTRIES", 3)
    path = workbooks.write(workbooks.tiny(), tmp_path / "tiny.xlsx")
    assert refusal(path).issues[0].code == "zip-bomb"


def test_a_large_but_ordinarily_compressible_part_is_accepted(tmp_path: Path):
    """The ratio rule only applies to big parts: a small, very compressible part is fine."""
    source = workbooks.write(workbooks.tiny(), tmp_path / "tiny.xlsx")
    # 1 MB of trailing spaces deflates far beyond 200x, but the part is below 10 MB.
    target = rewrite_part(
        source, tmp_path / "padded.xlsx", "xl/styles.xml", lambda data: data + b" " * 1024**2
    )
    check_container(target)  # does not raise
    assert check_workbook(target).log.issues == []


def test_cli_json_for_an_unreadable_file(tmp_path: Path):
    path = tmp_path / "legacy.xlsx"
    legacy_xls(path)
    result = validate(path, "--json")
    assert result.exit_code == EXIT_INVALID_INPUT
    records = json.loads(result.stdout)
    assert len(records) == 1
    record = records[0]
    assert {"code", "sheet", "cell", "row", "column", "value", "message"} <= set(record)
    assert record["code"] == "legacy-xls"
    assert record["sheet"] is None
    assert record["cell"] is None


# --- XML tricks ----------------------------------------------------------------


def test_openpyxl_parses_xml_through_defusedxml():
    assert openpyxl.xml.DEFUSEDXML is True


ENTITY_DECLARATIONS = {
    "billion-laughs": (
        b'<?xml version="1.0"?><!DOCTYPE worksheet ['
        b'<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    ),
    "external-entity": (
        b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY c SYSTEM "file:///etc/passwd">]>'
    ),
}


def with_entity(declaration: bytes) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        if data.startswith(b"<?xml"):
            data = data[data.index(b"?>") + 2 :]
        # tiny()'s Periods sheet (sheet1) holds the label "first": make it use the entity.
        assert b"<t>first</t>" in data or b"<workbook" in data
        return declaration + data.replace(b"<t>first</t>", b"<t>&c;</t>")

    return edit


@pytest.mark.parametrize("trick", sorted(ENTITY_DECLARATIONS))
@pytest.mark.parametrize("part", ["xl/worksheets/sheet1.xml", "xl/workbook.xml"])
def test_xml_entities_are_refused_as_xml_forbidden(tmp_path: Path, trick: str, part: str):
    source = workbooks.write(workbooks.tiny(), tmp_path / "tiny.xlsx")
    target = rewrite_part(
        source, tmp_path / "tricky.xlsx", part, with_entity(ENTITY_DECLARATIONS[trick])
    )
    error = refusal(target)
    issue = error.issues[0]
    assert issue.code == "xml-forbidden", issue
    assert f"part {part} declares a DOCTYPE" in issue.message
    # and directly through the hardened opener
    with pytest.raises(InputError) as caught:
        open_workbook(target)
    assert caught.value.issues[0].code == "xml-forbidden"


@pytest.mark.parametrize("trick", sorted(ENTITY_DECLARATIONS))
def test_defusedxml_still_refuses_entities_behind_the_doctype_check(
    tmp_path: Path, trick: str, monkeypatch: pytest.MonkeyPatch
):
    """Defence in depth: without the DOCTYPE scan, defusedxml refuses the entities itself."""
    monkeypatch.setattr(safe_open, "_check_no_doctype", lambda _path: None)
    source = workbooks.write(workbooks.tiny(), tmp_path / "tiny.xlsx")
    target = rewrite_part(
        source,
        tmp_path / "tricky.xlsx",
        "xl/worksheets/sheet1.xml",
        with_entity(ENTITY_DECLARATIONS[trick]),
    )
    issue = refusal(target).issues[0]
    assert issue.code == "xml-forbidden", issue
    assert "Forbidden" in issue.message


def test_xml_entity_exits_2_from_the_cli(tmp_path: Path):
    source = workbooks.write(workbooks.tiny(), tmp_path / "tiny.xlsx")
    target = rewrite_part(
        source,
        tmp_path / "tricky.xlsx",
        "xl/worksheets/sheet1.xml",
        with_entity(ENTITY_DECLARATIONS["billion-laughs"]),
    )
    result = validate(target, "--json")
    assert result.exit_code == EXIT_INVALID_INPUT
    assert [r["code"] for r in json.loads(result.stdout)] == ["xml-forbidden"]


def test_broken_xml_is_a_corrupt_file(tmp_path: Path):
    source = workbooks.write(workbooks.tiny(), tmp_path / "tiny.xlsx")
    target = rewrite_part(
        source,
        tmp_path / "broken.xlsx",
        "xl/worksheets/sheet1.xml",
        lambda data: data[: len(data) // 2],
    )
    assert refusal(target).issues[0].code == "corrupt-file"


# --- absurd dimensions ---------------------------------------------------------


@pytest.mark.parametrize("far_cell", ["XFD1048576", "XFD2", "F1048576"])
def test_a_stray_far_cell_is_read_without_walking_the_empty_grid(tmp_path: Path, far_cell: str):
    path = workbooks.write(workbooks.tiny(), tmp_path / "far.xlsx")
    book = openpyxl.load_workbook(path)
    book["Supply"][far_cell] = 1
    book.save(path)

    result = check_workbook(path)
    assert result.log.errors == []
    # the table itself is read as usual
    assert list(result.frame("Supply")["source"]) == ["CNX", "AUS"]
    if far_cell.startswith("XFD"):
        (issue,) = result.log.warnings
        assert issue.code == "far-cell"
        assert issue.place == f"Supply!{far_cell}"
    assert validate(path).exit_code == 0


# --- DOCTYPE anywhere, and zip bombs made of many parts ---------------------------

EXTERNAL_DTD = b'<?xml version="1.0"?><!DOCTYPE sst SYSTEM "http://example.invalid/x.dtd">'


def with_prolog(prolog: bytes, encoding: str = "utf-8") -> Callable[[bytes], bytes]:
    """Replace a part's XML declaration with `prolog`, then re-encode the whole part."""

    def edit(data: bytes) -> bytes:
        if data.startswith(b"<?xml"):
            data = data[data.index(b"?>") + 2 :]
        text = (prolog + data).decode("utf-8")
        if encoding != "utf-8":
            text = text.replace('encoding="UTF-8"', "").replace("<?xml", "\ufeff<?xml", 1)
        return text.encode(encoding)

    return edit


def with_shared_strings(source: Path, target: Path, prolog: bytes = b"") -> Path:
    """tiny() with Periods!B2 ("first") moved to an xl/sharedStrings.xml starting `prolog`."""
    main_ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    relation = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
    content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
    edits = {
        "xl/worksheets/sheet1.xml": (
            b'<c r="B2" t="inlineStr"><is><t>first</t></is></c>',
            b'<c r="B2" t="s"><v>0</v></c>',
        ),
        "xl/_rels/workbook.xml.rels": (
            b"</Relationships>",
            f'<Relationship Type="{relation}" Target="sharedStrings.xml" Id="rId99" />'
            "</Relationships>".encode(),
        ),
        "[Content_Types].xml": (
            b"</Types>",
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{content_type}" />'
            "</Types>".encode(),
        ),
    }
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename in edits:
                before, after = edits[item.filename]
                assert before in data
                data = data.replace(before, after)
            new.writestr(item, data)
        strings = f'<sst xmlns="{main_ns}" count="1" uniqueCount="1"><si><t>first</t></si></sst>'
        new.writestr("xl/sharedStrings.xml", prolog + strings.encode())
    return target


def test_shared_strings_naming_an_external_dtd_are_refused(tmp_path: Path):
    """The reported case: openpyxl and defusedxml accept a DOCTYPE without entities."""
    source = workbooks.write(workbooks.tiny(), tmp_path / "tiny.xlsx")
    plain = with_shared_strings(source, tmp_path / "plain.xlsx")
    assert check_workbook(plain).log.issues == []
    assert list(check_workbook(plain).frame("Periods")["label"]) == ["first"]

    target = with_shared_strings(source, tmp_path / "dtd.xlsx", EXTERNAL_DTD)
    issue = refusal(target).issues[0]
    assert issue.code == "xml-forbidden"
    assert str(issue) == (
        "workbook: dtd.xlsx: part xl/sharedStrings.xml declares a DOCTYPE; refused for safety "
        "(save the workbook again from Excel) [xml-forbidden]"
    )


@pytest.mark.parametrize(
    ("part", "prolog", "encoding"),
    [
        ("xl/worksheets/sheet2.xml", EXTERNAL_DTD, "utf-16-le"),
        ("xl/worksheets/sheet3.xml", EXTERNAL_DTD, "utf-16-be"),
        ("xl/_rels/workbook.xml.rels", b"<!DOCTYPE Relationships>", "utf-8"),
        ("[Content_Types].xml", b"<!-- " + b"x" * 200_000 + b" --><!DOCTYPE Types>", "utf-8"),
        ("xl/styles.xml", b"<?xml version='1.0'?>\n  <?pi data?>\n<!DOCTYPE x []>", "utf-8"),
    ],
    ids=["utf-16-le", "utf-16-be", "rels", "after-long-comment", "after-pi"],
)
def test_any_doctype_in_any_part_is_refused(
    tmp_path: Path, part: str, prolog: bytes, encoding: str
):
    source = workbooks.write(workbooks.tiny(), tmp_path / "tiny.xlsx")
    target = rewrite_part(source, tmp_path / "dtd.xlsx", part, with_prolog(prolog, encoding))
    issue = refusal(target).issues[0]
    assert issue.code == "xml-forbidden"
    assert issue.place == "workbook"
    assert issue.message == f"dtd.xlsx: part {part} declares a DOCTYPE; refused for safety"
    result = validate(target)
    assert result.exit_code == EXIT_INVALID_INPUT
    assert f"workbook: dtd.xlsx: part {part} declares a DOCTYPE" in result.output


def test_doctype_text_inside_a_cell_is_data_not_a_doctype(tmp_path: Path):
    sheets = workbooks.tiny()
    sheets["Periods"][1][1] = "<!DOCTYPE html>"
    path = workbooks.write(sheets, tmp_path / "text.xlsx")
    assert check_workbook(path).log.issues == []


def test_many_parts_each_under_the_part_threshold_are_refused_as_a_whole(tmp_path: Path):
    """The reported case: 13 sheets of 10 MiB of zeros each, in a file of a few hundred KB."""
    source = workbooks.write(workbooks.tiny(), tmp_path / "tiny.xlsx")
    target = tmp_path / "many.xlsx"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            new.writestr(item, old.read(item.filename))
        for number in range(13):
            new.writestr(f"xl/media/padding{number}.xml", b" " * safe_open.RATIO_CHECK_ABOVE_BYTES)
    assert target.stat().st_size < 400 * 1024
    issue = refusal(target).issues[0]
    assert issue.code == "zip-bomb"
    assert "parts inflate" in issue.message


def test_one_part_over_the_part_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(safe_open, "MAX_PART_BYTES", 1024**2)
    source = workbooks.write(workbooks.tiny(), tmp_path / "tiny.xlsx")
    target = rewrite_part(
        source, tmp_path / "big.xlsx", "xl/styles.xml", lambda data: data + b" " * 2 * 1024**2
    )
    issue = refusal(target).issues[0]
    assert issue.code == "zip-bomb"
    assert "part xl/styles.xml would inflate to 2 MB; the limit is 1 MB per part" in issue.message


def test_a_part_that_cannot_be_inflated_is_a_corrupt_file(tmp_path: Path):
    source = workbooks.write(workbooks.tiny(), tmp_path / "tiny.xlsx")
    data = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as archive:
        entry = archive.getinfo("xl/worksheets/sheet1.xml")
    # Overwrite the deflated bytes of one part (after its 30-byte local header and name).
    start = entry.header_offset + 30 + len(entry.filename) + len(entry.extra)
    data[start : start + entry.compress_size] = b"\xff" * entry.compress_size
    target = tmp_path / "damaged.xlsx"
    target.write_bytes(bytes(data))
    assert refusal(target).issues[0].code == "corrupt-file"
