"""Users, service accounts and API tokens on every backend: the identity contract."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from perch import identity
from perch.engine.principal import SYSTEM, Principal, PrincipalKind
from perch.errors import AlreadyExists, IdentityError, Unauthenticated, WeakPassword
from perch.identity.model import ApiToken, ServiceAccount
from perch.store import SqlStore
from perch.store.schema import api_tokens, audit, users
from tests.store.samples import T0

ANA = Principal("ana", PrincipalKind.USER)


def test_users_sign_in_with_username_or_email(store: SqlStore) -> None:
    assert not identity.has_superadmin(store)
    created = identity.create_user(
        store, "ana", "correct horse", email="Ana@Example.org", superadmin=True
    )
    assert identity.has_superadmin(store)
    assert created.email == "ana@example.org"
    assert created.password_hash.startswith("$argon2id$")
    assert identity.verify_password(store, "ana", "correct horse") == ANA
    assert identity.verify_password(store, "ANA@example.ORG", "correct horse") == ANA
    for login, password in [("ana", "wrong horse"), ("bob", "correct horse"), ("Ana", "x")]:
        with pytest.raises(Unauthenticated, match="wrong username or password"):
            identity.verify_password(store, login, password)


def test_a_plain_user_is_not_a_superadmin(store: SqlStore) -> None:
    identity.create_user(store, "bob", "long enough")
    assert not identity.has_superadmin(store)


def test_bad_users_are_refused(store: SqlStore) -> None:
    identity.create_user(store, "ana", "correct horse", email="ana@example.org")
    with pytest.raises(WeakPassword, match="at least 8"):
        identity.create_user(store, "bob", "short")
    with pytest.raises(AlreadyExists, match="'ana'"):
        identity.create_user(store, "ana", "another password")
    with pytest.raises(AlreadyExists, match=r"ana@example\.org"):
        identity.create_user(store, "ann", "another password", email="ANA@example.org")
    # A username that is someone's e-mail would make that login ambiguous.
    with pytest.raises(AlreadyExists):
        identity.create_user(store, "ana@example.org", "another password")
    with pytest.raises(IdentityError, match="e-mail"):
        identity.create_user(store, "cid", "another password", email="not-an-address")
    with pytest.raises(IdentityError, match="username"):
        identity.create_user(store, "two words", "another password")
    # PostgreSQL cannot store NUL: such names are refused, such logins simply match nobody.
    with pytest.raises(IdentityError, match="without controls"):
        identity.create_user(store, "nul\x00", "another password")
    with pytest.raises(Unauthenticated):
        identity.verify_password(store, "ana\x00", "correct horse")
    with store.transaction(readonly=True) as tx:
        assert tx.connection.execute(select(users.c.username)).scalars().all() == ["ana"]


def test_the_database_itself_refuses_duplicates(store: SqlStore) -> None:
    first = identity.create_user(store, "ana", "correct horse")
    with store.transaction() as tx:
        with pytest.raises(AlreadyExists):
            tx.insert_user(first)
        # The failed insert is confined to a savepoint: the transaction goes on.
        assert tx.find_user("ana") == first


def test_service_accounts_and_tokens(store: SqlStore) -> None:
    account = identity.create_service_account(store, "main", "ci", principal=ANA)
    identity.create_service_account(store, "other", "ci", principal=ANA)
    with pytest.raises(AlreadyExists, match="'ci'"):
        identity.create_service_account(store, "main", "ci", principal=ANA)
    assert [a.name for a in identity.list_service_accounts(store, "main")] == ["ci"]
    assert identity.get_service_account(store, account.id, tenant="main") == account
    with pytest.raises(identity.ServiceAccountNotFound):
        identity.get_service_account(store, account.id, tenant="other")
    with pytest.raises(identity.ServiceAccountNotFound):
        identity.get_service_account(store, "sa\x00")
    with pytest.raises(IdentityError):
        identity.create_service_account(store, "main", "c\x00i", principal=ANA)
    with pytest.raises(IdentityError):
        identity.create_service_account(store, "main", "cd", description="\x00", principal=ANA)
    with pytest.raises(identity.ApiTokenNotFound):
        identity.revoke_api_token(store, "t\x00", principal=ANA)
    assert identity.find_service_account(store, "main", "c\x00i") is None

    token, raw = identity.create_api_token(store, account.id, "deploys", principal=ANA)
    assert raw.startswith("perch_")
    assert len(raw) > 40
    assert raw.startswith(token.prefix)
    assert token.token_hash == identity.token_hash(raw)
    assert raw not in token.token_hash
    principal, found = identity.verify_token(store, raw, token.created)
    assert principal == Principal("ci", PrincipalKind.SERVICE_ACCOUNT)
    assert found == token
    with pytest.raises(Unauthenticated, match="not valid"):
        identity.verify_token(store, raw + "x", token.created)
    assert identity.list_api_tokens(store, account.id) == [token]


def test_expired_and_revoked_tokens_stop_working(store: SqlStore) -> None:
    account = identity.create_service_account(store, "main", "ci", principal=ANA)
    now = identity.get_service_account(store, account.id).created
    _, expiring_raw = identity.create_api_token(
        store, account.id, "short", expires_at=now + timedelta(days=1), principal=ANA
    )
    identity.verify_token(store, expiring_raw, now + timedelta(hours=23))
    with pytest.raises(Unauthenticated, match=r"'short'.*expired") as caught:
        identity.verify_token(store, expiring_raw, now + timedelta(days=1))
    assert expiring_raw not in str(caught.value)

    revoked, revoked_raw = identity.create_api_token(store, account.id, "gone", principal=ANA)
    identity.revoke_api_token(store, revoked.id, principal=ANA)
    identity.revoke_api_token(store, revoked.id, principal=ANA)  # again: no change
    with pytest.raises(Unauthenticated, match="revoked"):
        identity.verify_token(store, revoked_raw, now)
    with pytest.raises(identity.ApiTokenNotFound):
        identity.revoke_api_token(store, "nope", principal=ANA)
    with pytest.raises(IdentityError, match="already be expired"):
        identity.create_api_token(
            store, account.id, "past", expires_at=now - timedelta(days=1), principal=ANA
        )
    with pytest.raises(identity.ServiceAccountNotFound):
        identity.create_api_token(store, "nope", "t", principal=ANA)


def test_deleting_an_account_deletes_its_tokens(store: SqlStore) -> None:
    account = identity.create_service_account(store, "main", "ci", principal=ANA)
    _, raw = identity.create_api_token(store, account.id, "t", principal=ANA)
    identity.delete_service_account(store, account.id, principal=ANA)
    with pytest.raises(Unauthenticated):
        identity.verify_token(store, raw, T0)
    with store.transaction(readonly=True) as tx:
        assert tx.connection.execute(select(api_tokens.c.id)).all() == []
    with pytest.raises(identity.ServiceAccountNotFound):
        identity.delete_service_account(store, account.id, principal=ANA)


def test_token_use_is_recorded(store: SqlStore) -> None:
    account = identity.create_service_account(store, "main", "ci", principal=ANA)
    token, _ = identity.create_api_token(store, account.id, "t", principal=ANA)
    assert token.last_used is None
    identity.record_token_use(store, token.id, T0)
    (listed,) = identity.list_api_tokens(store, account.id)
    assert listed.last_used == T0


def test_identity_changes_are_audited_without_secrets(store: SqlStore) -> None:
    identity.create_user(store, "ana", "correct horse", superadmin=True)
    account = identity.create_service_account(store, "main", "ci", principal=ANA)
    token, raw = identity.create_api_token(store, account.id, "t", principal=ANA)
    identity.revoke_api_token(store, token.id, principal=ANA)
    identity.delete_service_account(store, account.id, principal=ANA)
    with store.transaction(readonly=True) as tx:
        rows = tx.connection.execute(select(audit).order_by(audit.c.seq)).all()
    assert [(r.action, r.principal_name) for r in rows] == [
        ("USER_CREATED", SYSTEM.name),
        ("SERVICE_ACCOUNT_CREATED", "ana"),
        ("API_TOKEN_CREATED", "ana"),
        ("API_TOKEN_REVOKED", "ana"),
        ("SERVICE_ACCOUNT_DELETED", "ana"),
    ]
    text = json.dumps([r.detail for r in rows])
    for secret in ("correct horse", "argon2", raw, token.token_hash):
        assert secret not in text
    assert store.verify_audit_chain().ok


def test_rows_come_back_as_values(store: SqlStore) -> None:
    account = ServiceAccount("sa1", "main", "ci", T0, "builds")
    token = ApiToken("tk1", "sa1", "t", "perch_abc", "f" * 64, T0, T0 + timedelta(days=1))
    with store.transaction() as tx:
        tx.insert_service_account(account)
        tx.insert_api_token(token)
    with store.transaction(readonly=True) as tx:
        assert tx.get_service_account("sa1") == account
        assert tx.find_service_account("main", "ci") == account
        assert tx.find_service_account("main", "cd") is None
        assert tx.get_api_token("tk1") == token
        assert tx.find_api_token("f" * 64) == (token, account)
        assert tx.find_api_token("0" * 64) is None
        assert tx.get_user("nobody") is None
