"""End-to-end tests of `sealm guard`: findings as JSON lines / a JSON object, redaction with
typed placeholders, the streaming filter giving the same text, stdin and files, usage errors."""
import json

from conftest import run

TEXT = ("Mail ann@example.com or call +44 20 7946 0958. Card 4111 1111 1111 1111, "
        "IBAN GB82 WEST 1234 5698 7654 32, SSN 123-45-6789, host 192.168.1.10. "
        "ann@example.com again; key AKIAIOSFODNN7EXAMPLE.\n")


def _span(text, value):
    start = text.encode().index(value.encode())
    return start, start + len(value.encode())


def test_json_lines_findings_have_types_spans_scores_rules():
    p = run("guard", "-", input_text=TEXT)
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    by_type = {}
    for r in rows:
        assert set(r) == {"type", "start", "end", "score", "rule"}
        assert 0.0 < r["score"] <= 1.0 and r["rule"]
        by_type.setdefault(r["type"], []).append((r["start"], r["end"]))
    assert by_type["EMAIL"] == [_span(TEXT, "ann@example.com"),
                                (TEXT.rindex("ann@example.com"), TEXT.rindex("ann@example.com") + 15)]
    assert by_type["PHONE"] == [_span(TEXT, "+44 20 7946 0958")]
    assert by_type["CARD"] == [_span(TEXT, "4111 1111 1111 1111")]
    assert by_type["IBAN"] == [_span(TEXT, "GB82 WEST 1234 5698 7654 32")]
    assert by_type["SSN"] == [_span(TEXT, "123-45-6789")]
    assert by_type["IPV4"] == [_span(TEXT, "192.168.1.10")]
    assert by_type["SECRET"] == [_span(TEXT, "AKIAIOSFODNN7EXAMPLE")]
    # the matched values themselves are never printed
    assert "ann@example.com" not in p.stdout and "4111" not in p.stdout


def test_redact_placeholders_consistent(tmp_path):
    f = tmp_path / "in.txt"
    f.write_text(TEXT)
    out = run("guard", "--redact", f).stdout
    assert out == ("Mail [EMAIL_1] or call [PHONE_1]. Card [CARD_1], IBAN [IBAN_1], SSN [SSN_1], "
                   "host [IPV4_1]. [EMAIL_1] again; key [SECRET_1].\n")


def test_json_with_redact_and_stream_same_text(tmp_path):
    f = tmp_path / "in.txt"
    f.write_text(TEXT * 3)
    one = run_json_obj("guard", "--redact", "--json", f)
    assert "ann@example.com" not in one["text"] and one["text"].count("[EMAIL_1]") == 6
    assert len(one["findings"]) == 24
    for chunk in ("1", "5", "64"):
        streamed = run("guard", "--redact", "--stream", chunk, f).stdout
        assert streamed == one["text"]


def test_clean_text_has_no_findings_and_min_score():
    p = run("guard", "--json", "-", input_text="The weather is nice today, isn't it?\n")
    assert json.loads(p.stdout) == {"findings": []}
    # a 0.9 floor keeps the email (0.95) and drops the national-format phone
    rows = [json.loads(x) for x in run("guard", "--min-score", "0.9", "-",
                                       input_text="a@example.com or 0496 46 46 70\n").stdout.splitlines()]
    assert [r["type"] for r in rows] == ["EMAIL"]


def test_usage_errors(tmp_path):
    assert run("guard", "--bogus", check=False).returncode == 2
    assert run("guard", "--min-score", "7", check=False).returncode == 2
    assert run("guard", "--stream", "0", check=False).returncode == 2
    p = run("guard", tmp_path / "missing.txt", check=False)
    assert p.returncode == 1 and "missing.txt" in p.stderr
    h = run("guard", "--help")
    assert "--redact" in h.stdout
    assert "guard" in run("--help").stdout


def run_json_obj(*args):
    return json.loads(run(*args).stdout)
