"""ICE settings: precedence file < environment < flags, and a clear error for bad input."""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import msgspec
import pytest

from turn.config import (
    ConfigError,
    IceSettings,
    add_ice_arguments,
    ice_settings_from_args,
    parse_ice_url,
    select_for_aiortc,
    settings_from_servers,
    to_rtc_configuration,
)
from turn.credentials import rest_password
from turn.ice_servers import IceServer

SECRET = "s3cret-s3cret-s3cret"


def settings(argv: list[str], env: dict[str, str] | None = None) -> IceSettings:
    parser = argparse.ArgumentParser()
    add_ice_arguments(parser)
    return ice_settings_from_args(parser.parse_args(argv), env or {})


def write_toml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "quibble.toml"
    path.write_text(text)
    return str(path)


def error_of(argv: list[str], env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        settings(argv, env)
    return str(info.value)


# --- URL parsing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scheme", "host", "port", "path"),
    [
        ("stun:stun.example.org", "stun", "stun.example.org", 3478, "udp"),
        ("stun:192.0.2.1:19302", "stun", "192.0.2.1", 19302, "udp"),
        ("turn:turn.example.org", "turn", "turn.example.org", 3478, "udp"),
        ("turn:turn.example.org:3478?transport=udp", "turn", "turn.example.org", 3478, "udp"),
        ("turn:turn.example.org:80?transport=tcp", "turn", "turn.example.org", 80, "tcp"),
        ("turns:turn.example.org", "turns", "turn.example.org", 5349, "tls"),
        ("turns:turn.example.org:443?transport=tcp", "turns", "turn.example.org", 443, "tls"),
        ("turn:[2001:db8::1]:3478?transport=tcp", "turn", "2001:db8::1", 3478, "tcp"),
    ],
)
def test_parses_ice_urls(text: str, scheme: str, host: str, port: int, path: str) -> None:
    url = parse_ice_url(text)
    assert (url.scheme, url.host, url.port, url.turn_path) == (scheme, host, port, path)
    assert parse_ice_url(str(url)) == url  # the canonical form reads back the same


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("", "empty"),
        ("turn.example.org", "no scheme"),
        ("http://turn.example.org", "unknown scheme 'http:'"),
        ("stuns:stun.example.org", "stuns: is not supported"),
        ("turn://turn.example.org", "no '//'"),
        ("turn:", "no host"),
        ("turn::3478", "no host"),
        ("turn:bad_host:3478", "host 'bad_host'"),
        ("turn:example.org:http", "port 'http'"),
        ("turn:example.org:0", "port 0 is outside"),
        ("turn:example.org:70000", "port 70000 is outside"),
        ("turn:example.org:3478?transport=sctp", "transport 'sctp'"),
        ("turn:example.org:3478?proto=udp", "unknown query 'proto=udp'"),
        ("turns:example.org:443?transport=udp", "DTLS"),
        ("stun:example.org:3478?transport=udp", "stun: URLs take no query"),
        ("turn:2001:db8::1:3478", "IPv6 host must be in brackets"),
        ("turn:[2001:db8::1:3478", "no closing ']'"),
        ("turn:[not-v6]:3478", "'not-v6' is not an IPv6 address"),
        ("turn:[::1]x", "unexpected 'x'"),
        ("turn:" + "a" * 600, "longer than 512"),
    ],
)
def test_bad_urls_name_the_bad_part(text: str, names: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_ice_url(text, where="--turn")
    assert names in str(info.value)
    assert str(info.value).startswith("--turn:")


def test_a_bad_url_error_says_which_flag_and_url() -> None:
    message = error_of(["--turn", "turn:ok.example.org", "--turn", "turn:x:99999",
                        "--turn-secret", SECRET])
    assert message.startswith("--turn:") and "'turn:x:99999'" in message


def test_a_stun_url_given_as_turn_and_vice_versa_is_refused() -> None:
    assert "is a STUN URL" in error_of(["--turn", "stun:a.example.org", "--turn-secret", SECRET])
    assert "is a TURN URL" in error_of(["--stun", "turn:a.example.org"])


# --- precedence: file < env < flags -------------------------------------------------------


def test_nothing_configured_is_the_lan_default() -> None:
    ice = settings([])
    assert ice.is_empty and not ice.relay_only
    assert ice.servers_for_client("p1", 0) == []
    assert ice.aiortc_servers("p1", 0) == []
    config = to_rtc_configuration([], relay_only=False)
    assert config.iceServers == []  # never None: aiortc would add a public STUN server


def test_environment_overrides_file_and_flags_override_environment(tmp_path: Path) -> None:
    path = write_toml(tmp_path, """
[ice]
stun = ["stun:file.example.org"]
turn = ["turn:file.example.org"]
turn_secret = "file-secret-1234"
turn_ttl = 600
""")
    from_file = settings(["--config", path])
    assert [u.host for u in from_file.stun] == ["file.example.org"]
    assert from_file.secret == "file-secret-1234" and from_file.ttl == 600

    env = {"QUIBBLE_STUN": "stun:env1.example.org, stun:env2.example.org",
           "QUIBBLE_TURN_TTL": "900"}
    from_env = settings(["--config", path], env)
    assert [u.host for u in from_env.stun] == ["env1.example.org", "env2.example.org"]
    assert [u.host for u in from_env.turn] == ["file.example.org"]  # env said nothing about TURN
    assert from_env.ttl == 900

    from_flags = settings(["--config", path, "--stun", "stun:flag.example.org",
                           "--turn-ttl", "1200"], env)
    assert [u.host for u in from_flags.stun] == ["flag.example.org"]
    assert from_flags.ttl == 1200


def test_turn_urls_from_flags_replace_the_environment_list() -> None:
    env = {"QUIBBLE_TURN": "turn:env.example.org", "QUIBBLE_TURN_SECRET": SECRET}
    ice = settings(["--turn", "turn:flag.example.org?transport=tcp"], env)
    assert [str(u) for u in ice.turn] == ["turn:flag.example.org:3478?transport=tcp"]
    assert ice.secret == SECRET  # credentials still come from the environment


def test_credentials_from_a_later_source_replace_earlier_ones_as_a_whole(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path, '[ice]\nturn = ["turn:t.example.org"]\nturn_secret = "file-secret-1234"\n'
    )
    env = {"QUIBBLE_TURN_USER": "alice", "QUIBBLE_TURN_PASS": "pw"}
    static = settings(["--config", path], env)
    assert (static.secret, static.user, static.password) == (None, "alice", "pw")
    back_to_secret = settings(["--config", path, "--turn-secret", SECRET], env)
    assert (back_to_secret.secret, back_to_secret.user) == (SECRET, None)


def test_relay_only_from_file_or_flag(tmp_path: Path) -> None:
    env = {"QUIBBLE_TURN": "turn:t.example.org", "QUIBBLE_TURN_SECRET": SECRET}
    assert not settings([], env).relay_only
    assert settings(["--relay-only"], env).relay_only
    path = write_toml(tmp_path, "[ice]\nrelay_only = true\n")
    assert settings(["--config", path], env).relay_only


# Every setting, every combination of the three sources: the last source that names the
# setting wins, and a source that says nothing leaves the earlier value alone.
SOURCES = ("file", "env", "flags")
TURN_CREDS = {"turn": "turn:t.example.org", "secret": "shared-secret-1234"}


def _source_values(kind: str, source: str) -> tuple[str, dict[str, str], list[str]]:
    """(TOML lines, environment, flags) that set ``kind`` to a value naming ``source``."""
    host = f"{source}.example.org"
    if kind == "stun":
        return (f'stun = ["stun:{host}"]', {"QUIBBLE_STUN": f"stun:{host}"},
                ["--stun", f"stun:{host}"])
    if kind == "turn":
        return (f'turn = ["turn:{host}"]', {"QUIBBLE_TURN": f"turn:{host}"},
                ["--turn", f"turn:{host}"])
    if kind == "ttl":
        ttl = str(600 + SOURCES.index(source))
        return f"turn_ttl = {ttl}", {"QUIBBLE_TURN_TTL": ttl}, ["--turn-ttl", ttl]
    if kind == "secret":
        secret = f"{source}-secret-123"
        return (f'turn_secret = "{secret}"', {"QUIBBLE_TURN_SECRET": secret},
                ["--turn-secret", secret])
    assert kind == "user"
    return (f'turn_user = "{source}-user"\nturn_pass = "{source}-pass"',
            {"QUIBBLE_TURN_USER": f"{source}-user", "QUIBBLE_TURN_PASS": f"{source}-pass"},
            ["--turn-user", f"{source}-user", "--turn-pass", f"{source}-pass"])


def _read_back(kind: str, ice: IceSettings) -> str:
    if kind == "stun":
        return ice.stun[0].host.split(".")[0]
    if kind == "turn":
        return ice.turn[0].host.split(".")[0]
    if kind == "ttl":
        return SOURCES[ice.ttl - 600]
    if kind == "secret":
        return (ice.secret or "").split("-")[0]
    return (ice.user or "").split("-")[0]


@pytest.mark.parametrize("kind", ["stun", "turn", "ttl", "secret", "user"])
@pytest.mark.parametrize(
    "present",
    [combo for n in (1, 2, 3) for combo in itertools.combinations(SOURCES, n)],
    ids=lambda combo: "+".join(combo),
)
def test_the_last_source_naming_a_setting_wins(
    tmp_path: Path, kind: str, present: tuple[str, ...]
) -> None:
    toml = ["[ice]"]
    env: dict[str, str] = {}
    argv: list[str] = []
    if kind != "turn":  # a TURN URL (and credentials for it) from the lowest source
        toml.append(f'turn = ["{TURN_CREDS["turn"]}"]')
    if kind not in ("secret", "user"):
        toml.append(f'turn_secret = "{TURN_CREDS["secret"]}"')
    for source in present:
        lines, variables, flags = _source_values(kind, source)
        if source == "file":
            toml.append(lines)
        elif source == "env":
            env.update(variables)
        else:
            argv += flags
    path = write_toml(tmp_path, "\n".join(toml) + "\n")
    ice = settings(["--config", path, *argv], env)
    assert _read_back(kind, ice) == present[-1]
    if kind == "secret":
        assert ice.user is None and ice.password is None
    if kind == "user":
        assert ice.secret is None and ice.password == f"{present[-1]}-pass"


def test_no_relay_only_flag_overrides_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[ice]\nturn = ["turn:t.example.org"]\n'
                      'turn_secret = "file-secret-1234"\nrelay_only = true\n')
    assert settings(["--config", path]).relay_only
    assert not settings(["--config", path, "--no-relay-only"]).relay_only
    off = write_toml(tmp_path, '[ice]\nturn = ["turn:t.example.org"]\n'
                     'turn_secret = "file-secret-1234"\nrelay_only = false\n')
    assert settings(["--config", off, "--relay-only"]).relay_only


def test_an_empty_environment_variable_counts_as_unset(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[ice]\nstun = ["stun:file.example.org"]\n')
    ice = settings(["--config", path], {"QUIBBLE_STUN": "", "QUIBBLE_TURN_SECRET": ""})
    assert [u.host for u in ice.stun] == ["file.example.org"] and ice.secret is None


def test_other_tables_in_the_file_are_left_to_other_commands(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[host]\nport = 8080\n[ice]\nstun = ["stun:s.example.org"]\n')
    assert [u.host for u in settings(["--config", path]).stun] == ["s.example.org"]


# --- malformed input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "env", "names"),
    [
        (["--turn", "turn:t.example.org"], {}, "needs credentials"),
        (["--turn-secret", SECRET], {}, "--turn-secret: TURN credentials given but no TURN"),
        ([], {"QUIBBLE_TURN_USER": "u", "QUIBBLE_TURN_PASS": "p"}, "QUIBBLE_TURN_USER: TURN "),
        (["--turn", "turn:t.example.org", "--turn-secret", SECRET, "--turn-user", "u"], {},
         "--turn-secret and --turn-user"),
        (["--turn", "turn:t.example.org", "--turn-user", "u"], {},
         "--turn-user needs --turn-pass"),
        (["--turn", "turn:t.example.org", "--turn-pass", "p"], {},
         "--turn-pass needs --turn-user"),
        (["--turn", "turn:t.example.org", "--turn-secret", "short"], {},
         "--turn-secret: length 5"),
        (["--turn", "turn:t.example.org", "--turn-secret", "has space in it"], {},
         "may not contain spaces"),
        (["--turn", "turn:t.example.org", "--turn-user", "u\x01", "--turn-pass", "p"], {},
         "--turn-user: contains control characters"),
        (["--relay-only"], {}, "relay-only mode needs a TURN server"),
        (["--turn", "turn:t.example.org", "--turn-secret", SECRET, "--turn-ttl", "soon"], {},
         "--turn-ttl: 'soon' is not a whole number"),
        (["--turn", "turn:t.example.org", "--turn-secret", SECRET, "--turn-ttl", "5"], {},
         "--turn-ttl: 5 s is outside"),
        (["--turn", "turn:t.example.org", "--turn-secret", SECRET], {"QUIBBLE_TURN_TTL": "-1"},
         "QUIBBLE_TURN_TTL: -1 s is outside"),
        ([], {"QUIBBLE_STUN": "stun:ok.example.org,http://x"}, "QUIBBLE_STUN: unknown scheme"),
        ([a for i in range(9) for a in ("--stun", f"stun:s{i}.example.org")], {},
         "more than 8 STUN URLs"),
        ([a for i in range(9) for a in ("--turn", f"turn:t{i}.example.org")]
         + ["--turn-secret", SECRET], {}, "more than 8 TURN URLs"),
        (["--stun", ""], {}, "--stun: empty URL"),
        ([], {"QUIBBLE_TURN": "turn:t.example.org:x", "QUIBBLE_TURN_SECRET": SECRET},
         "QUIBBLE_TURN: 'turn:t.example.org:x': port 'x'"),
        ([], {"QUIBBLE_TURN": "turn:t.example.org", "QUIBBLE_TURN_PASS": "p"},
         "QUIBBLE_TURN_PASS needs QUIBBLE_TURN_USER"),
        ([], {"QUIBBLE_TURN": "turn:t.example.org", "QUIBBLE_TURN_SECRET": "bell\x07bell-x"},
         "QUIBBLE_TURN_SECRET: contains control characters"),
        ([], {"QUIBBLE_TURN": "turn:t.example.org", "QUIBBLE_TURN_SECRET": "a#b-secret"},
         "may not contain spaces, quotes or '#'"),
        (["--turn", "turn:t.example.org", "--turn-secret", "x" * 300], {},
         "--turn-secret: length 300"),
        (["--turn", "turn:t.example.org", "--turn-user", "u" * 300, "--turn-pass", "p"], {},
         "--turn-user: length 300"),
        ([], {"QUIBBLE_TURN": "turn:t.example.org", "QUIBBLE_TURN_SECRET": SECRET,
              "QUIBBLE_TURN_TTL": "9999999"}, "QUIBBLE_TURN_TTL: 9999999 s is outside"),
    ],
)
def test_bad_settings_get_a_clear_error(argv: list[str], env: dict[str, str], names: str) -> None:
    assert names in error_of(argv, env)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[ice\nstun = 1", "not valid TOML"),
        ('ice = "stun:x"', "'ice' must be a table"),
        ('[ice]\nstun = "stun:s.example.org"', "Expected `array`, got `str` - at 'stun'"),
        ("[ice]\nturn_ttl = \"long\"", "at 'turn_ttl'"),
        ('[ice]\nstunn = ["stun:s.example.org"]', "unknown field `stunn`"),
        ('[ice]\nstun = ["http://s.example.org"]', "[ice] stun: unknown scheme"),
        ("[ice]\nrelay_only = 1", "at 'relay_only'"),
        ('[ice]\nstun = [1]', "Expected `str`, got `int` - at 'stun[0]'"),
        ('[ice]\nturn = [' + ",".join(f'"turn:t{i}.example.org"' for i in range(9))
         + ']\nturn_secret = "file-secret-1234"', "length <= 8 - at 'turn'"),
        ('[ice]\nturn = ["turn:t.example.org"]', "[ice] turn: a TURN server needs credentials"),
        ('[ice]\nturn = ["turn:t.example.org"]\nturn_user = "u"', "turn_user needs"),
        ('[ice]\nturn = ["turn:t.example.org"]\nturn_secret = ""',
         "[ice] turn_secret: length 0"),
        ('[ice]\nturn = ["turn:t.example.org"]\nturn_secret = "file-secret-1234"\n'
         'turn_pass = "p"', "give either a shared secret"),
        ('[ice]\nturn = ["turn:t.example.org"]\nturn_secret = "file-secret-1234"\n'
         "turn_ttl = 10", "[ice] turn_ttl: 10 s is outside"),
        ('[ice]\nstun = ["turn:t.example.org"]', "[ice] stun: 'turn:t.example.org' is a TURN"),
    ],
)
def test_bad_config_files_get_a_clear_error(tmp_path: Path, text: str, names: str) -> None:
    path = write_toml(tmp_path, text)
    message = error_of(["--config", path])
    assert names in message
    assert path in message


def test_unreadable_and_oversized_config_files(tmp_path: Path) -> None:
    assert "cannot read it" in error_of(["--config", str(tmp_path / "missing.toml")])
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * 70_000 + "\n")
    assert "larger than" in error_of(["--config", str(big)])
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    assert "not UTF-8" in error_of(["--config", str(binary)])


# --- what clients get -----------------------------------------------------------------------


def full_settings(**extra: object) -> IceSettings:
    argv = [
        "--stun", "stun:stun.example.org",
        "--turn", "turn:turn.example.org:3478?transport=udp",
        "--turn", "turn:turn.example.org:3478?transport=tcp",
        "--turn", "turns:turn.example.org:443?transport=tcp",
        "--turn-secret", SECRET, "--turn-ttl", "600",
    ]
    for flag, value in extra.items():
        argv += [f"--{flag.replace('_', '-')}"] + ([] if value is True else [str(value)])
    return settings(argv)


def test_browsers_get_every_url_with_fresh_credentials_and_never_the_secret() -> None:
    ice = full_settings()
    servers = ice.servers_for_client("player 7", now=1_000_000)
    wire = msgspec.json.encode(servers)
    assert SECRET.encode() not in wire
    stun, turn = servers
    assert stun == IceServer(urls=["stun:stun.example.org:3478"])
    assert len(turn.urls) == 3
    assert turn.username == "1000600:player_7"
    assert turn.credential == rest_password(SECRET, turn.username)
    other = ice.servers_for_client("player 8", now=1_000_000)[1]
    assert other.username != turn.username and other.credential != turn.credential


def test_static_credentials_are_handed_out_as_they_are() -> None:
    ice = settings(["--turn", "turn:t.example.org", "--turn-user", "u", "--turn-pass", "p"])
    [turn] = ice.servers_for_client("x", 0)
    assert (turn.username, turn.credential) == ("u", "p")


def test_aiortc_gets_one_stun_and_one_turn_url_chosen_on_purpose() -> None:
    ice = full_settings()
    stun, turn = ice.aiortc_servers("host", 0)
    assert stun.urls == ["stun:stun.example.org:3478"]
    assert turn.urls == ["turn:turn.example.org:3478?transport=udp"]
    [tcp_only] = ice.aiortc_servers("host", 0, udp_blocked=True)  # no STUN: it would stall 5 s
    assert tcp_only.urls == ["turn:turn.example.org:3478?transport=tcp"]
    [_, tls] = ice.aiortc_servers("host", 0, prefer="tls")
    assert tls.urls == ["turns:turn.example.org:443?transport=tcp"]


def test_udp_blocked_with_only_udp_turn_leaves_no_server() -> None:
    ice = settings(["--stun", "stun:s.example.org", "--turn", "turn:t.example.org",
                    "--turn-secret", SECRET])
    assert ice.aiortc_servers("p", 0, udp_blocked=True) == []


def test_relay_only_drops_stun_and_sets_the_relay_policy() -> None:
    ice = full_settings(relay_only=True)
    servers = ice.aiortc_servers("p", 0)
    assert [s.urls for s in servers] == [["turn:turn.example.org:3478?transport=udp"]]
    config = ice.rtc_configuration("p", 0)
    assert config.iceTransportPolicy.value == "relay"
    assert config.iceServers is not None and len(config.iceServers) == 1


def test_aiortc_skips_ipv6_literal_urls_it_cannot_parse() -> None:
    ice = settings(["--turn", "turn:[2001:db8::1]:3478",
                    "--turn", "turn:t.example.org?transport=tcp", "--turn-secret", SECRET])
    [turn] = ice.aiortc_servers("p", 0)
    assert turn.urls == ["turn:t.example.org:3478?transport=tcp"]
    assert len(ice.servers_for_client("p", 0)[0].urls) == 2  # browsers still get both


def test_provider_issues_credentials_from_its_clock() -> None:
    ice = full_settings()
    provider = ice.provider(clock=lambda: 5000.0)
    [_, turn] = provider("c1")
    assert turn.username == "5600:c1"


def test_descriptions_and_reprs_never_show_secrets() -> None:
    ice = full_settings()
    assert SECRET not in repr(ice) and SECRET not in ice.describe()
    static = settings(["--turn", "turn:t.example.org", "--turn-user", "u", "--turn-pass", "pw-x"])
    assert "pw-x" not in repr(static) and "pw-x" not in static.describe()
    assert settings([]).describe() == "no STUN/TURN servers (LAN only)"


def test_help_lists_every_ice_flag() -> None:
    parser = argparse.ArgumentParser()
    add_ice_arguments(parser)
    text = parser.format_help()
    for flag in ("--config", "--stun", "--turn", "--turn-secret", "--turn-user", "--turn-pass",
                 "--turn-ttl", "--relay-only"):
        assert flag in text


def test_a_player_may_ask_for_relay_only_when_turn_comes_from_signaling() -> None:
    parser = argparse.ArgumentParser()
    add_ice_arguments(parser)
    args = parser.parse_args(["--relay-only"])
    with pytest.raises(ConfigError):
        ice_settings_from_args(args, {})
    ice = ice_settings_from_args(args, {}, turn_may_come_from_signaling=True)
    assert ice.relay_only and ice.is_empty


def test_select_for_aiortc_cuts_a_signaling_list_down_on_purpose() -> None:
    servers = full_settings().servers_for_client("p", 0)
    stun, turn = select_for_aiortc(servers)
    assert stun.urls == ["stun:stun.example.org:3478"]
    assert turn.urls == ["turn:turn.example.org:3478?transport=udp"]
    assert (turn.username, turn.credential) == (servers[1].username, servers[1].credential)
    [tcp] = select_for_aiortc(servers, udp_blocked=True)
    assert tcp.urls == ["turn:turn.example.org:3478?transport=tcp"]
    [relay] = select_for_aiortc(servers, relay_only=True, prefer="tls")
    assert relay.urls == ["turns:turn.example.org:443?transport=tcp"]
    junk = [IceServer(urls=["http://nope", "turn:no-creds.example.org"])]
    assert select_for_aiortc(junk) == []


def test_settings_from_a_handed_out_list_keep_its_urls_and_credential() -> None:
    servers = [
        *full_settings().servers_for_client("p", 0),
        IceServer(urls=["turn:other.example.org"], username="x", credential="y"),
        IceServer(urls=["http://nope", "stun:stun2.example.org"]),
    ]
    ice = settings_from_servers(servers)
    assert [str(u) for u in ice.stun] == ["stun:stun.example.org:3478",
                                          "stun:stun2.example.org:3478"]
    assert [u.turn_path for u in ice.turn] == ["udp", "tcp", "tls"]  # the first credential's
    assert (ice.user, ice.password) == (servers[1].username, servers[1].credential)
    assert ice.secret is None
    assert settings_from_servers([]).is_empty
    assert not settings_from_servers(servers[:1], relay_only=True).relay_only  # no TURN
