"""Login and registration throttles, through the gateway of real platforms on PostgreSQL and on SQLite.

Each test sends from loopback addresses of its own (127.x.y.z: Linux routes the whole 127/8 to this machine), so the
gateway sees distinct TCP peers: a stranger and an owner, or one attacker trying many names.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from shared.migrate import upgrade
from tests.conftest import TEST_SECRET
from tests.platform_harness import (
    DEFAULT_PASSWORD,
    E2E_SETTINGS,
    SERVICES,
    Platform,
    free_port,
    platform_env,
    unique_username,
)
from tests.security.support import assert_error_shape

pytestmark = pytest.mark.e2e

LOGIN = "/api/v1/auth/login"
REGISTER = "/api/v1/auth/register"
PARALLEL_GUESSES = 16


class FromAddress(requests.Session):
    """A client whose connections leave from ``address`` (a loopback address of its own)."""

    def __init__(self, base_url: str, address: str) -> None:
        super().__init__()
        self.base_url = base_url
        self.address = address
        adapter = HTTPAdapter()
        adapter.init_poolmanager(10, 10, source_address=(address, 0))
        self.mount("http://", adapter)

    def login(self, username: str, password: str, **headers: str) -> requests.Response:
        return self.post(
            self.base_url + LOGIN, json={"username": username, "password": password}, headers=headers, timeout=60
        )

    def register(self, username: str) -> requests.Response:
        return self.post(
            self.base_url + REGISTER, json={"username": username, "password": DEFAULT_PASSWORD}, timeout=60
        )


def new_address() -> str:
    octets = uuid.uuid4().bytes[:3]
    return f"127.{octets[0]}.{octets[1]}.{max(octets[2], 2)}"


def registered_user(base_url: str) -> str:
    username = unique_username("owner")
    assert FromAddress(base_url, new_address()).register(username).status_code == 201
    return username


def parallel_wrong_logins(base_url: str, address: str, username: str, count: int) -> list[int]:
    start = threading.Barrier(count)
    statuses: list[int] = []

    def guess() -> None:
        with FromAddress(base_url, address) as client:
            start.wait()
            statuses.append(client.login(username, f"guess-{uuid.uuid4().hex}").status_code)

    threads = [threading.Thread(target=guess) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return sorted(statuses)


@pytest.fixture(scope="module")
def sqlite_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The services and the gateway (no worker) on a SQLite file and a local object folder."""
    run_dir: Path = tmp_path_factory.mktemp("sqlite-platform")
    database_url = f"sqlite:///{run_dir / 'salesml.db'}"
    upgrade(database_url)
    ports = {name: free_port() for name in (*SERVICES, "gateway")}
    settings = {
        "OBJECT_STORE_URL": f"file://{run_dir / 'objects'}",
        "JWT_SECRET_KEY": TEST_SECRET,
        "INTERNAL_TOKEN_SECRET": TEST_SECRET + "-internal",
        "MODEL_SIGNING_KEY": TEST_SECRET + "-models",
        **E2E_SETTINGS,
    }
    platform = Platform(platform_env(database_url, run_dir, ports, settings), ports, run_dir, with_worker=False)
    try:
        platform.start_all()
        yield platform
    finally:
        platform.stop_all()


@pytest.fixture(params=["postgresql", "sqlite"])
def any_platform(request: pytest.FixtureRequest) -> Platform:
    return request.getfixturevalue("platform" if request.param == "postgresql" else "sqlite_platform")


def test_parallel_wrong_logins_get_no_more_checks_than_the_limit(any_platform):
    """Before, on SQLite every one of 16 parallel guesses was checked (the row lock was a no-op and the count lost
    updates): 48 guesses per lockout window instead of 5."""
    url = any_platform.gateway_url
    username = registered_user(url)
    address = new_address()
    statuses = parallel_wrong_logins(url, address, username, PARALLEL_GUESSES)
    limit = int(any_platform.env.get("LOGIN_MAX_FAILURES", 5))
    assert statuses == [401] * limit + [429] * (PARALLEL_GUESSES - limit)
    with FromAddress(url, address) as attacker:
        locked = attacker.login(username, DEFAULT_PASSWORD)
        assert_error_shape(locked, 429)
        assert int(locked.headers["Retry-After"]) > 0


def test_a_strangers_failures_never_lock_the_owner_out(platform):
    """Before, five wrong passwords every five minutes from anywhere kept any account locked for good."""
    url = platform.gateway_url
    username = registered_user(url)
    with FromAddress(url, new_address()) as stranger, FromAddress(url, new_address()) as owner:
        for _ in range(5):
            # X-Forwarded-For is no one's to claim here (TRUSTED_PROXY_COUNT is 0): it names the owner in vain.
            wrong = stranger.login(username, "not-the-password", **{"X-Forwarded-For": owner.address})
            assert_error_shape(wrong, 401)
        assert_error_shape(stranger.login(username, DEFAULT_PASSWORD), 429)
        assert owner.login(username, DEFAULT_PASSWORD).status_code == 200
        # The owner's success does not unlock the stranger.
        assert_error_shape(stranger.login(username, DEFAULT_PASSWORD), 429)


def test_unknown_and_known_usernames_answer_alike(platform):
    """Before, an unknown username never reached 429, so six attempts told whether an account exists."""
    url = platform.gateway_url
    usernames = {"known": registered_user(url), "unknown": unique_username("nobody")}
    answers: dict[str, list[requests.Response]] = {"known": [], "unknown": []}
    checked_s: dict[str, list[float]] = {"known": [], "unknown": []}
    with FromAddress(url, new_address()) as for_known, FromAddress(url, new_address()) as for_unknown:
        clients = {"known": for_known, "unknown": for_unknown}
        for _ in range(6):
            for kind, client in clients.items():  # interleaved, so a busy moment of the machine hits both
                started = time.perf_counter()
                answer = client.login(usernames[kind], "not-the-password")
                if answer.status_code == 401:
                    checked_s[kind].append(time.perf_counter() - started)
                answers[kind].append(answer)
    for kind in answers:
        assert [answer.status_code for answer in answers[kind]] == [401] * 5 + [429], kind
    assert [answer.json() for answer in answers["known"]] == [answer.json() for answer in answers["unknown"]]
    assert_error_shape(answers["unknown"][-1], 429)
    # Both check a password hash: the same class of cost, not microseconds against tens of milliseconds.
    known_s, unknown_s = statistics.median(checked_s["known"]), statistics.median(checked_s["unknown"])
    assert 1 / 3 < known_s / unknown_s < 3, (known_s, unknown_s)


@pytest.fixture(scope="module")
def small_address_limits(platform: Platform) -> Iterator[dict[str, int]]:
    """The projects service with per-address limits small enough to cross (every other test sends from 127.0.0.1,
    which the session's platform lets through)."""
    limits = {"LOGIN_MAX_FAILURES_PER_ADDRESS": 8, "REGISTRATIONS_PER_ADDRESS": 3}
    with platform.restarted_with("projects", limits):
        yield limits


def test_one_address_trying_many_usernames_is_locked_out(platform, small_address_limits):
    url = platform.gateway_url
    limit = small_address_limits["LOGIN_MAX_FAILURES_PER_ADDRESS"]
    with FromAddress(url, new_address()) as sprayer, FromAddress(url, new_address()) as someone_else:
        for _ in range(limit):
            assert_error_shape(sprayer.login(unique_username("sprayed"), "password1234"), 401)
        locked = sprayer.login(unique_username("sprayed"), "password1234")
        assert_error_shape(locked, 429)
        assert int(locked.headers["Retry-After"]) > 0
        assert_error_shape(someone_else.login(unique_username("sprayed"), "password1234"), 401)


def test_registrations_are_throttled_per_address(platform, small_address_limits):
    """Before, one address could register accounts without end."""
    url = platform.gateway_url
    limit = small_address_limits["REGISTRATIONS_PER_ADDRESS"]
    with FromAddress(url, new_address()) as registrar, FromAddress(url, new_address()) as someone_else:
        for _ in range(limit):
            assert registrar.register(unique_username("many")).status_code == 201
        refused = registrar.register(unique_username("many"))
        assert_error_shape(refused, 429)
        assert int(refused.headers["Retry-After"]) > 0
        assert someone_else.register(unique_username("many")).status_code == 201


def test_x_forwarded_for_counts_only_from_the_operators_proxies(platform):
    """With TRUSTED_PROXY_COUNT=1 the gateway believes the last X-Forwarded-For entry (what its proxy saw), so the
    clients behind that proxy are told apart; with 0 (every other test) the header is ignored."""
    url = platform.gateway_url
    username = registered_user(url)
    with platform.restarted_with("gateway", {"TRUSTED_PROXY_COUNT": 1}):
        with FromAddress(url, new_address()) as proxy:
            stranger, owner = new_address(), new_address()
            for _ in range(5):
                assert_error_shape(proxy.login(username, "wrong-password", **{"X-Forwarded-For": stranger}), 401)
            assert_error_shape(proxy.login(username, DEFAULT_PASSWORD, **{"X-Forwarded-For": stranger}), 429)
            # A forged first entry does not help the stranger: only the proxy's own (last) entry counts.
            spoofed = proxy.login(username, DEFAULT_PASSWORD, **{"X-Forwarded-For": f"{owner}, {stranger}"})
            assert_error_shape(spoofed, 429)
            assert proxy.login(username, DEFAULT_PASSWORD, **{"X-Forwarded-For": owner}).status_code == 200
