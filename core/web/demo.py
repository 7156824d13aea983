"""``eportcard demo``: a config, database, CA and demo data (staff, enterprises, applications in
every state) made through the real services, so history and audit are genuine. Idempotent."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

import attrs
from attrs import frozen

from core import lifecycle
from core.config import CONFIG_NAME, Settings, load_settings
from core.model import Application, Pickup, RejectionReason
from core.samples import make_enrol
from core.services import Actor, Services
from core.services.accounts import create_user
from core.services.deployment import make_deployment_files, secure_deployment

DEMO_PASSWORD = "Demo2026pass"
DEMO_REGION = "shenzhen"
STAFF_ROLES = {"reviewer": "reviewer", "maker": "card_maker", "clerk": "counter_clerk", "admin": "branch_admin"}
SYSTEM = Actor.system("demo")

# (enterprise number, what happens to its enrolment after creation, pickup)
SCENARIOS: tuple[tuple[int, tuple[str, ...], Pickup], ...] = (
    (1, (), Pickup.COUNTER),                                                     # draft
    (2, ("submit",), Pickup.COUNTER),                                            # submitted
    (3, ("submit", "accept"), Pickup.COUNTER),                                   # accepted
    (4, ("submit", "accept", "require_medium"), Pickup.COUNTER),                 # needs medium
    (5, ("submit", "accept", "require_medium", "provide_medium"), Pickup.COUNTER),  # medium ready
    (6, ("submit", "accept", "start_production"), Pickup.COUNTER),               # in production
    (7, ("submit", "accept", "start_production", "complete"), Pickup.COUNTER),   # awaiting pickup
    (8, ("submit", "accept", "start_production", "complete", "ship"), Pickup.MAIL),  # shipped
    (9, ("submit", "accept", "reject"), Pickup.COUNTER),                         # rejected
    (11, ("submit", "accept", "start_production", "complete"), Pickup.MAIL),     # to be mailed (the clerk's list)
)


@frozen
class DemoLogins:
    enterprises: tuple[tuple[str, str], ...]  # (username, what its application shows)
    staff: tuple[str, ...]
    password: str


def prepare_config(folder: Path) -> Path:
    """Write ``eportcard.toml`` in ``folder`` unless it is there (then it is reused as it is), and the
    audit key (a keyed audit chain), as `eportcard init` does."""
    config = folder / CONFIG_NAME
    make_deployment_files(config, region=DEMO_REGION, development=True)
    return config


def _made_and_completed(services: Services, app: Application, staff: Actor) -> Application:
    """办结 once every card is recorded as made (the demo's scenario cards were "made elsewhere")."""
    for index in lifecycle.unmade_items(app):
        app = services.applications.mark_made(app.id, index, staff)
    return services.applications.complete(app.id, staff)


def _advance(services: Services, app: Application, action: str, staff: Actor) -> Application:
    svc = services.applications
    for step in svc.pending_steps(app):
        app = svc.complete_step(app.id, step.code, SYSTEM, note="demo")
    owner = Actor(id="demo", kind="enterprise", uscc=app.enterprise.uscc)
    moves: dict[str, Callable[[], Application]] = {
        "submit": lambda: svc.submit(app.id, owner),
        "accept": lambda: svc.accept(app.id, staff),
        "reject": lambda: svc.reject(app.id, staff, [RejectionReason.REMARKS, RejectionReason.OTHER],
                                     note="演示：请按要求填写备注 / demo: fill in the remarks as required"),
        "require_medium": lambda: svc.require_medium(app.id, staff),
        "provide_medium": lambda: svc.provide_medium(app.id, staff),
        "start_production": lambda: svc.start_production(app.id, staff),
        "complete": lambda: _made_and_completed(services, app, staff),
        "ship": lambda: svc.ship(app.id, "SF1234567890", staff),
    }
    return moves[action]()


def seed(services: Services, region: str = DEMO_REGION) -> DemoLogins:
    """Staff for every enabled region and enterprises with applications in every state (once)."""
    seeded = services.accounts.exists(f"admin-{region}")
    staff_names = tuple(f"{short}-{code}" for code in sorted(services.rulebook.regions()) for short in STAFF_ROLES)
    enterprises = tuple((f"demo-ent{n}", " → ".join(actions) or "draft") for n, actions, _p in SCENARIOS)
    logins = DemoLogins(enterprises=enterprises, staff=staff_names, password=DEMO_PASSWORD)
    if seeded:
        return logins
    for code in sorted(services.rulebook.regions()):
        for short, role in STAFF_ROLES.items():
            create_user(services, f"{short}-{code}", DEMO_PASSWORD, "staff", region=code, roles=[role],
                        display_name=f"{short} {code}")
    staff = Actor(id=f"admin-{region}", kind="staff", region=region, roles=frozenset({"branch_admin"}))
    for n, actions, pickup in SCENARIOS:
        sample = make_enrol(900 + n, region, operators=1, pickup=pickup)
        owner = Actor(id=f"demo-ent{n}", kind="enterprise", uscc=sample.enterprise.uscc)
        create_user(services, f"demo-ent{n}", DEMO_PASSWORD, "enterprise", uscc=sample.enterprise.uscc,
                    region=region, display_name=sample.enterprise.legal_rep.name, mobile="13800000000")
        outlets = services.rulebook.outlets(region)
        choice = attrs.evolve(sample.pickup, outlet=outlets[0].code if outlets and pickup is Pickup.COUNTER else "")
        app = services.applications.create(attrs.evolve(sample, id="", pickup=choice, created_at=None), owner)
        for action in actions:
            app = _advance(services, app, action, staff)
    return logins


def init_ca(settings: Settings, folder: Path) -> str:
    """Create the demo CA when ``core.pki`` is installed and none exists yet; returns a status line."""
    try:
        from core.pki.ca import CERT_FILE, CertificateAuthority
    except ModuleNotFoundError:
        return "PKI layer not installed: no CA made"
    ca_dir = settings.path(settings.pki.ca_dir)
    if (ca_dir / CERT_FILE).exists():
        return f"CA reused: {ca_dir}"
    passphrase = os.environ.get(settings.pki.passphrase_env)
    if not passphrase:
        passphrase = secrets.token_urlsafe(18)
        secret_file = folder / "ca-passphrase.txt"
        secret_file.write_text(passphrase + "\n", encoding="utf-8")
        secret_file.chmod(0o600)
    CertificateAuthority.init(ca_dir, "eportcard demo CA", passphrase, settings.pki.algorithm)
    return f"CA created: {ca_dir} (passphrase in {settings.pki.passphrase_env} or ca-passphrase.txt)"


CARD_ENTERPRISE = 10  # demo-ent10: its legal and operator cards are made as virtual cards under cards/


def _demo_passphrase(settings: Settings, folder: Path) -> str:
    """The CA passphrase from the environment, else from the demo's ca-passphrase.txt (then exported
    to this process's environment so the web front can load the CA; a demo shortcut, not for production)."""
    passphrase = os.environ.get(settings.pki.passphrase_env, "")
    secret_file = folder / "ca-passphrase.txt"
    if not passphrase and secret_file.exists():
        passphrase = secret_file.read_text(encoding="utf-8").strip()
        os.environ[settings.pki.passphrase_env] = passphrase
    return passphrase


def prepare_card_keys(settings: Settings, folder: Path) -> None:
    """The demo's card master secret (made once) and its CA passphrase in this process's environment,
    so that the services opened next have the card keys."""
    from core.services.cards import create_master_secret

    if _demo_passphrase(settings, folder) and settings.path(settings.pki.ca_dir).exists():
        master_file = settings.path(settings.card.master_key_file)
        if not master_file.exists():
            create_master_secret(master_file)


def make_demo_cards(services: Services, settings: Settings, folder: Path, region: str = DEMO_REGION) -> str:
    """demo-ent10's legal and operator cards, personalised in-process into virtual-card files (once),
    and how to plug them in for the card login; returns those lines."""
    from core.hardware.driver import CardDriver
    from core.hardware.transport import InProcessTransport
    from core.hardware.virtual_card import VirtualCard
    from core.services.cards.counter import Counter

    cards_dir = folder / "cards"
    legal_file = cards_dir / "legal.json"
    username = f"demo-ent{CARD_ENTERPRISE}"
    if not legal_file.exists():
        if not services.cards.enabled:
            return f"no CA passphrase ({settings.pki.passphrase_env}): no demo cards made"
        counter = services.cards.counter
        staff = Actor(id=f"admin-{region}", kind="staff", region=region, roles=frozenset({"branch_admin"}))
        sample = make_enrol(900 + CARD_ENTERPRISE, region, operators=2)
        owner = Actor(id=username, kind="enterprise", uscc=sample.enterprise.uscc)
        if not services.accounts.exists(username):
            create_user(services, username, DEMO_PASSWORD, "enterprise", uscc=sample.enterprise.uscc,
                        region=region, display_name=sample.enterprise.legal_rep.name, mobile="13800000000")
        outlets = services.rulebook.outlets(region)
        choice = attrs.evolve(sample.pickup, outlet=outlets[0].code if outlets else "")
        app = services.applications.create(attrs.evolve(sample, id="", pickup=choice, created_at=None), owner)
        for action in ("submit", "accept", "start_production"):
            app = _advance(services, app, action, staff)
        cards_dir.mkdir(parents=True, exist_ok=True)
        # The second operator's card is an SM2 card (SM2 key, SM2/SM3 signatures), whatever the demo's profile.
        sm2_counter = Counter(services, counter.keys, attrs.evolve(counter.profiles, algorithm="sm2"))
        for index, name, making in ((2, "sm2", sm2_counter), (1, "operator", counter), (0, "legal", counter)):
            serial = secrets.token_hex(8)  # legal.json last: it marks the cards as made
            card = VirtualCard.create(cards_dir / f"{name}.json", admin_key=counter.keys.admin_key(serial),
                                      serial=serial, device_no="", retry_limit=3)
            driver = CardDriver(InProcessTransport(card)).connect()
            making.personalize(app.id, index, driver, staff, device_no=f"91000000000{index + 1:02d}")
            driver.disconnect()
        _advance(services, services.applications.get(app.id, staff), "complete", staff)
    return "\n".join([
        "", f"card login / 法人卡登录 ({username}, PIN 88888888): plug the demo legal card in, then open /portal/card-login",
        "  bash scripts/start-pcscd.sh",
        f"  eportcard virtual-card --state {legal_file} --vpcd 127.0.0.1:35963 &",
        '  eportcard agent --reader "Virtual PCD 00 00" &',
        f"  (operator card: stop the virtual card and start it again with --state {cards_dir / 'operator.json'};"
        f" the SM2 card, SM2/SM3 signatures: {cards_dir / 'sm2.json'})",
    ])


DEMO_HOST, DEMO_PORT = "127.0.0.1", 8000
_LOCAL_URL = re.compile(r"http://(127\.0\.0\.1|localhost):\d+")


def follow_address(config: Path, host: str, port: int) -> None:
    """Point the demo config at the address it is served on: [web] host, port and base_url and the card
    agent's allowed origins and server URL (the receipt's QR code and the agent's origin check use them).
    The config is the demo's own, written by :func:`prepare_config`: its address lines are rewritten."""
    text = config.read_text(encoding="utf-8")
    section = ""
    lines = []
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped
            if section == "[agent]" and "server_url" not in text:  # the agent calls the server back here
                line += f'server_url = "http://127.0.0.1:{port}"\n'
        elif section == "[web]" and re.match(r"port\s*=", stripped):
            line = f"port = {port}\n"
        elif section == "[web]" and re.match(r"host\s*=", stripped):
            line = f'host = "{host}"\n'
        lines.append(_LOCAL_URL.sub(lambda m: f"http://{m.group(1)}:{port}", line))  # a loopback host stays
    changed = "".join(lines)
    if changed != text:
        config.write_text(changed, encoding="utf-8")


def build_demo(folder: Path, host: str = DEMO_HOST, port: int = DEMO_PORT) -> tuple[Services, DemoLogins, str]:
    config = prepare_config(folder)
    follow_address(config, host, port)  # `eportcard demo --port N`: everything derived from the address follows
    # The demo is development mode (codes at /dev/outbox), also in a folder made before that setting.
    settings = load_settings(config)
    settings = attrs.evolve(settings, web=attrs.evolve(settings.web, development=True),
                            sms=attrs.evolve(settings.sms, gateway="outbox"))
    ca_line = init_ca(settings, folder)
    prepare_card_keys(settings, folder)  # before the services open: they read the card keys
    services = Services.from_settings(settings, upgrade=True)
    secure_deployment(settings)  # as `eportcard init` does: the blob folder exists (and /readyz says ready)
    services.store.start_keyed_audit(SYSTEM.label)  # a demo folder from before the audit key
    region = settings.regions.default or DEMO_REGION
    logins = seed(services, region)
    try:
        card_lines = make_demo_cards(services, settings, folder, region)
    except ModuleNotFoundError as exc:  # the hardware layer (pyscard) is optional
        card_lines = f"card layer not installed ({exc.name}): no demo cards"
    return services, logins, ca_line + card_lines


def describe(logins: DemoLogins, url: str, ca_line: str) -> str:
    lines = [f"eportcard demo: open {url}", "", f"password for every demo login / 所有演示账号密码: {logins.password}",
             "", "enterprises / 企业 (log in at /portal/login):"]
    lines += [f"  {name:<14} {story}" for name, story in logins.enterprises]
    lines += ["", "staff / 工作人员 (log in at /staff/login):", "  " + "  ".join(logins.staff), "",
              "SMS codes (development mode, from this machine only): /dev/outbox", ca_line]
    return "\n".join(lines)


__all__ = ["CARD_ENTERPRISE", "DEMO_HOST", "DEMO_PASSWORD", "DEMO_PORT", "SCENARIOS", "DemoLogins", "build_demo", "describe",
           "follow_address", "init_ca", "make_demo_cards", "prepare_card_keys", "prepare_config", "seed"]
