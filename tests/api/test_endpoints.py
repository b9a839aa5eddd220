"""Every API operation's happy path and the shape of what it returns."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

from flask import Flask

from tests.api.conftest import TEXT, Api, Key, Scene, enrol
from tests.conftest import BACKENDS, PASSWORD, People


def test_openapi_needs_no_token(api: Api) -> None:
    response = api.get("openapi.json", "no_token")
    assert response.status_code == 200
    assert "/api/v1/me" in response.get_json()["paths"]


def test_me(api: Api, people: People) -> None:
    body = api.get("me", "delegate").get_json()
    assert body == {"id": people.delegate.id, "email": "izmir@b40.example", "display_name": "İzmir delegate",
                    "role": "delegate", "city": {"slug": "izmir", "name": "İzmir"}}
    assert api.get("me", "observer").get_json()["city"] is None
    assert api.get("me", "secretariat").get_json()["role"] == "secretariat"


def test_list_declarations_shows_drafts_only_to_the_secretariat(api: Api, scene: Scene) -> None:
    mine = {d["slug"] for d in api.get("declarations").get_json()}
    theirs = {d["slug"] for d in api.get("declarations", "observer").get_json()}
    assert mine == set(scene.slugs.values())
    assert theirs == {scene.slugs[k] for k in ("consultation", "consultation2", "open", "signed")}
    summary = next(d for d in api.get("declarations", "delegate").get_json() if d["slug"] == "d-open")
    assert summary["status"] == "open_for_signature" and summary["latest_revision"] == 1
    assert summary["open_revision"]["number"] == 1 and len(summary["open_revision"]["sha256"]) == 64


@BACKENDS
def test_create_declaration_then_revise_consult_and_open_signing(api: Api, people: People) -> None:
    created = api.post("declarations", json={"title": "Izmir  Declaration", "text": TEXT + "\n"})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["slug"] == "izmir-declaration" and body["title"] == "Izmir Declaration"
    assert body["status"] == "draft" and body["latest_revision"] == 1 and body["open_revision"] is None
    assert body["signing_rule"] is None and body["signing_deadline"] is None
    assert {c["slug"] for c in body["cities"]} == {"izmir", "athens"}
    assert all(c["signature_status"] is None and not c["signatory"] for c in body["cities"])

    revised = api.post("declarations/izmir-declaration/revisions", json={"text": TEXT + "\n\nThird.", "note": "more"})
    assert revised.status_code == 201
    revision = revised.get_json()
    assert revision["number"] == 2 and revision["note"] == "more" and revision["text"].endswith("Third.\n")
    assert revision["sha256"] == hashlib.sha256(revision["text"].encode()).hexdigest()

    consult = api.post("declarations/izmir-declaration/consultation")
    assert consult.status_code == 200 and consult.get_json()["status"] == "consultation"

    deadline = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
    opened = api.post("declarations/izmir-declaration/open-signing", json={
        "revision": 2, "rule": {"kind": "quorum", "required": 1}, "deadline": deadline.isoformat(),
        "excluded_cities": ["athens"],
    })
    assert opened.status_code == 200, opened.get_json()
    detail = opened.get_json()
    assert detail["status"] == "open_for_signature"
    assert detail["open_revision"] == {"number": 2, "sha256": revision["sha256"]}
    assert detail["signing_rule"] == {"kind": "quorum", "required": 1}
    assert datetime.fromisoformat(detail["signing_deadline"]) == deadline
    cities = {c["slug"]: c for c in detail["cities"]}
    assert cities["izmir"]["signatory"] and cities["izmir"]["signature_status"] == "not_signed"
    assert not cities["athens"]["signatory"] and cities["athens"]["signature_status"] == "not_asked"
    assert api.get("declarations/izmir-declaration", "observer").get_json() == detail


def test_declaration_detail_shows_approvals_and_signatures(api: Api, scene: Scene) -> None:
    detail = api.get(f"declarations/{scene.slugs['signed']}", "observer").get_json()
    cities = {c["slug"]: c for c in detail["cities"]}
    assert cities["izmir"]["signature_status"] == "valid"
    assert cities["athens"]["signature_status"] == "not_signed"
    assert detail["signing_rule"] == {"kind": "all"}

    from signing.services import declarations, review

    consulted = declarations.get(scene.slugs["consultation"])
    review.approve(consulted.latest, scene.people.delegate)
    cities = {c["slug"]: c for c in api.get(f"declarations/{consulted.slug}").get_json()["cities"]}
    assert cities["izmir"]["approved_revision"] == 1 and cities["athens"]["approved_revision"] is None


def test_revisions(api: Api, scene: Scene) -> None:
    listing = api.get(f"declarations/{scene.slugs['open']}/revisions", "delegate").get_json()
    assert [r["number"] for r in listing] == [1]
    assert listing[0]["author"] == "Secretariat" and listing[0]["note"] == "First draft"
    datetime.fromisoformat(listing[0]["created_at"])
    one = api.get(f"declarations/{scene.slugs['open']}/revisions/1", "observer").get_json()
    assert set(one) == {"number", "text", "sha256", "created_at", "note", "authoritative_language", "versions"}
    assert one["text"] == TEXT + "\n" and one["sha256"] == listing[0]["sha256"]
    assert one["authoritative_language"] == "en" and one["versions"] == [
        {"tag": "en", "text": one["text"], "sha256": one["sha256"], "authoritative": True}]


def test_keys_enrol_list_revoke(api: Api, people: People) -> None:
    key = Key()
    created = api.post("keys", "delegate", json={"public_key": key.public_b64, "label": "  offline   laptop ",
                                                 "password": PASSWORD})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["fingerprint"] == key.fingerprint and body["label"] == "offline laptop"
    assert body["origin"] == "cli" and body["active"] and body["revoked_at"] is None
    assert body["public_key"] == key.public_b64 and body["user_id"] == people.delegate.id
    datetime.fromisoformat(body["created_at"])
    urlsafe = base64.urlsafe_b64encode(Key().public_raw).decode().rstrip("=")
    browser = api.post("keys", "delegate", json={"public_key": urlsafe, "label": "browser", "password": PASSWORD,
                                                 "origin": "browser"})
    assert browser.status_code == 201 and browser.get_json()["origin"] == "browser"
    other = enrol(people.other_delegate)

    assert [k["fingerprint"] for k in api.get("keys", "delegate").get_json()][0] == key.fingerprint
    assert len(api.get("keys", "delegate").get_json()) == 2
    assert len(api.get("keys", "secretariat").get_json()) == 3
    only_athens = api.get(f"keys?user={people.other_delegate.id}", "secretariat").get_json()
    assert [k["fingerprint"] for k in only_athens] == [other.fingerprint]
    assert len(api.get(f"keys?user={people.delegate.id}", "delegate").get_json()) == 2
    assert api.get("keys", "observer").get_json() == []

    revoked = api.post(f"keys/{key.fingerprint}/revoke", "delegate")
    assert revoked.status_code == 200
    assert not revoked.get_json()["active"] and revoked.get_json()["revoked_at"]
    by_secretariat = api.post(f"keys/{other.fingerprint}/revoke", "secretariat")
    assert by_secretariat.status_code == 200


def test_signing_payload_is_the_exact_bytes_to_sign(api: Api, scene: Scene, app: Flask) -> None:
    from signing.core import payload as payloads

    response = api.post(f"declarations/{scene.slugs['open']}/signing-payload", "delegate",
                        json={"key_fingerprint": scene.key.fingerprint})
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"payload", "payload_sha256", "expires_at"}
    data = base64.b64decode(body["payload"])
    assert hashlib.sha256(data).hexdigest() == body["payload_sha256"]
    fields = payloads.parse(data)
    assert fields["format"] == payloads.SIGNATURE_V2_FORMAT
    assert fields["declaration_slug"] == scene.slugs["open"] and fields["city_slug"] == "izmir"
    assert fields["key_fingerprint"] == scene.key.fingerprint and fields["issuer"] == app.config["PUBLIC_URL"]
    assert datetime.fromisoformat(body["expires_at"]) == payloads.parse_timestamp(fields["expires_at"])


@BACKENDS
def test_sign_list_and_withdraw(api: Api, scene: Scene, issue_and_sign: object) -> None:
    from signing.core import payload as payloads

    slug = scene.slugs["open"]
    signed = api.post(f"declarations/{slug}/signatures", "delegate", json=issue_and_sign(slug, scene.key))  # type: ignore[operator]
    assert signed.status_code == 201, signed.get_json()
    receipt = signed.get_json()
    assert receipt["city"] == "izmir" and receipt["key_fingerprint"] == scene.key.fingerprint
    datetime.fromisoformat(receipt["signed_at"])

    listing = api.get(f"declarations/{slug}/signatures", "observer").get_json()
    assert len(listing) == 1
    row = listing[0]
    assert row["city"] == "izmir" and row["city_name"] == "İzmir" and row["signer"] == "İzmir delegate"
    assert row["status"] == "valid" and row["revision"] == 1 and row["payload_sha256"] == receipt["payload_sha256"]
    assert payloads.verify(base64.b64decode(row["public_key"]), base64.b64decode(row["signature"]),
                           base64.b64decode(row["payload"]))

    body = issue_and_sign(slug, scene.key, kind="withdrawal")  # type: ignore[operator]
    statement = json.loads(base64.b64decode(body["payload"]))
    assert statement["withdraws_payload_sha256"] == receipt["payload_sha256"]
    withdrawn = api.post(f"declarations/{slug}/withdrawals", "delegate", json=body)
    assert withdrawn.status_code == 201, withdrawn.get_json()
    result = withdrawn.get_json()
    assert result["city"] == "izmir" and result["withdraws_payload_sha256"] == receipt["payload_sha256"]
    assert result["payload_sha256"] == hashlib.sha256(base64.b64decode(body["payload"])).hexdigest()
    assert api.get(f"declarations/{slug}/signatures").get_json()[0]["status"] == "withdrawn"
    cities = {c["slug"]: c for c in api.get(f"declarations/{slug}").get_json()["cities"]}
    assert cities["izmir"]["signature_status"] == "withdrawn"

    again = api.post(f"declarations/{slug}/signatures", "delegate", json=issue_and_sign(slug, scene.key))  # type: ignore[operator]
    assert again.status_code == 201, "after a withdrawal the city may sign again"
