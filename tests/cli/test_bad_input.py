"""Every bad input named in issue 13 ends in one line on standard error saying what is wrong and what to give
instead, and a non-zero exit status (2: bad input), before any work starts: never a traceback, never a result lost
at the end of a long run."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import pytest

from .helpers import run_cli

USAGE = 2


# ---------------------------------------------------------------------------------------------- simulate


def test_simulate_refuses_a_csms_url_that_is_not_a_websocket_url(capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "simulate", "--csms-url", "notaurl")
    assert r.status == USAGE
    assert "not a websocket URL: 'notaurl'" in r.one_line() and "ws://" in r.one_line()


def test_simulate_refuses_a_negative_time_scale(capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "simulate", "--time-scale", "-1")
    assert r.status == USAGE
    assert "--time-scale" in r.one_line() and "out of range" in r.one_line()


def test_simulate_refuses_a_charger_current_the_board_cannot_offer(capsys: pytest.CaptureFixture[str]) -> None:
    # the Yeti offers 6 ... 32 A per phase (its help says so); 100 A used to run silently at 32 A
    r = run_cli(capsys, "simulate", "--charger-current", "100")
    assert r.status == USAGE
    assert "--charger-current" in r.one_line() and "6 ... 32" in r.one_line()
    r = run_cli(capsys, "simulate", "--charger-current", "5")
    assert r.status == USAGE and "6 ... 32" in r.one_line()


def test_simulate_refuses_a_plot_in_a_folder_that_does_not_exist(capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path) -> None:
    target = tmp_path / "missing" / "session.png"
    r = run_cli(capsys, "simulate", "--plot", str(target))
    assert r.status == USAGE
    assert "does not exist" in r.one_line() and str(target.parent) in r.one_line()
    assert r.seconds < 5.0  # found before the session, not after it


def test_simulate_refuses_a_plot_file_of_another_format(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    r = run_cli(capsys, "simulate", "--plot", str(tmp_path / "out.txt"))
    assert r.status == USAGE
    assert ".png" in r.one_line()


def test_simulate_refuses_a_json_log_it_could_not_write(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    r = run_cli(capsys, "simulate", "--json", str(tmp_path / "nowhere" / "log.json"))
    assert r.status == USAGE and "does not exist" in r.one_line()
    r = run_cli(capsys, "simulate", "--json", str(tmp_path))
    assert r.status == USAGE and "is a directory" in r.one_line()


def test_simulate_refuses_missing_certificate_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "ca.pem"
    r = run_cli(capsys, "simulate", "--csms-url", "wss://127.0.0.1:9/ocpp", "--security-profile", "2",
                "--password", "x", "--cafile", str(missing))
    assert r.status == USAGE and f"no such file: {missing}" in r.one_line()


def test_simulate_refuses_a_security_profile_that_does_not_match_the_url(capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "simulate", "--csms-url", "ws://127.0.0.1:9/ocpp", "--security-profile", "2",
                "--password", "x")
    assert r.status == USAGE and "wss://" in r.one_line()
    r = run_cli(capsys, "simulate", "--csms-url", "ws://127.0.0.1:9/ocpp", "--security-profile", "1")
    assert r.status == USAGE and "--password" in r.one_line()
    r = run_cli(capsys, "simulate", "--password", "x")
    assert r.status == USAGE and "--csms-url" in r.one_line()


def test_simulate_refuses_a_state_of_charge_above_100(capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "simulate", "--soc", "120")
    assert r.status == USAGE and "--soc" in r.one_line()


# ---------------------------------------------------------------------------------------------- ocpp


def test_ocpp_cp_refuses_a_url_that_is_not_a_websocket_url(capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "ocpp", "cp", "--url", "notaurl")
    assert r.status == USAGE and "not a websocket URL" in r.one_line()


def test_ocpp_csms_refuses_a_port_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "ocpp", "csms", "--port", "99999")
    assert r.status == USAGE and "0 ... 65535" in r.one_line()


def test_ocpp_csms_profile_2_needs_a_certificate(capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "ocpp", "csms", "--profile", "2", "--password", "secret")
    assert r.status == USAGE and "--cert" in r.one_line()
    r = run_cli(capsys, "ocpp", "csms", "--profile", "2")
    assert r.status == USAGE and "--password" in r.one_line()


def test_ocpp_csms_names_a_missing_certificate_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "csms.pem"
    r = run_cli(capsys, "ocpp", "csms", "--profile", "2", "--password", "x", "--cert", str(missing))
    assert r.status == USAGE and f"no such file: {missing}" in r.one_line()


def test_ocpp_csms_refuses_a_file_that_is_not_a_certificate(capsys: pytest.CaptureFixture[str],
                                                           tmp_path: Path) -> None:
    bogus = tmp_path / "cert.pem"
    bogus.write_text("not a certificate\n")
    r = run_cli(capsys, "ocpp", "csms", "--profile", "2", "--password", "x", "--cert", str(bogus))
    assert r.status == USAGE and "certificate or key" in r.one_line()


def test_ocpp_refuses_an_unknown_version(capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "ocpp", "cp", "--url", "ws://127.0.0.1:9/", "--versions", "3")
    assert r.status == USAGE and "unknown OCPP version 3" in r.one_line()


def test_an_identity_outside_ocpps_identifier_string_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    # OCPP 2.0.1 identifierString: at most 48 of A-Z a-z 0-9 * - _ = : + | @ . (':' not with basic auth)
    r = run_cli(capsys, "ocpp", "cp", "--url", "ws://127.0.0.1:9/ocpp", "--id", "CP 001")
    assert r.status == USAGE and "not a charging station identity" in r.one_line() and "' '" in r.one_line()
    r = run_cli(capsys, "simulate", "--identity", "X" * 49)
    assert r.status == USAGE and "49 characters" in r.one_line()
    r = run_cli(capsys, "simulate", "--identity", "")
    assert r.status == USAGE and "empty" in r.one_line()
    r = run_cli(capsys, "ocpp", "cp", "--url", "ws://127.0.0.1:9/ocpp", "--id", "CP:1", "--profile", "1",
                "--password", "pw")
    assert r.status == USAGE and "cannot contain ':'" in r.one_line()


# ---------------------------------------------------------------------------------------------- exi, yeti


def test_exi_encode_of_broken_xml_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "exi", "encode", "iso2", "--xml", "<a>")
    assert r.status == USAGE and "not well-formed XML" in r.one_line()


def test_yeti_monitor_refuses_a_reset_line_it_cannot_read(capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "yeti", "monitor", "--port", "/dev/null", "--reset-gpio", "bad")
    assert r.status == USAGE and "CHIP:LINE" in r.one_line()


def test_yeti_rfid_simulate_refuses_a_card_uid_that_is_not_hex(capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "yeti", "rfid-simulate", "--pty", "--card", "XYZ")
    assert r.status == USAGE and "card UID" in r.one_line()
    r = run_cli(capsys, "yeti", "rfid-simulate", "--pty", "--card", "0102")  # 2 bytes: no ISO 14443 UID size
    assert r.status == USAGE and "4, 7 or 10 bytes" in r.one_line()


def test_every_help_lists_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    from evcharge.cli import build_parser

    parser, _ = build_parser()
    seen = 0
    stack = [parser]
    while stack:
        p = stack.pop()
        assert "exit status: 0 done; 1 " in p.format_help().replace("\n", " ").replace("  ", " "), p.prog
        seen += 1
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack.extend(action.choices.values())
    assert seen >= 10


def test_a_command_that_fails_to_load_does_not_break_the_others(capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    """A half-installed or broken subcommand module used to take ``evcharge --help`` and every command down with
    a traceback; now only that command fails, with one line."""
    from evcharge import cli

    (tmp_path / "evcharge_test_broken_command.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, ("broken", "evcharge_test_broken_command", "broken")))
    r = run_cli(capsys, "exi", "decode", "iso2", "809802000000000000000011d01808000000000400")
    assert r.status == 0, r.err
    r = run_cli(capsys, "broken", "--anything")
    assert r.status == 1, r.err
    assert "cannot load this command (RuntimeError: boom)" in r.one_line()
