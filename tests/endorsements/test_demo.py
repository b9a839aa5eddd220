"""``flask demo --complete`` adds verified organisations and a few dozen people's endorsements, shown at once on the
public page; ``flask endorsements digest`` queues the secretariat's digest."""

from __future__ import annotations

from flask import Flask


def test_demo_complete_shows_endorsements_at_once(app: Flask) -> None:
    from signing.manage import demo
    from signing.manage.demo_endorsements import DEMO_ORGANISATIONS, DEMO_PEOPLE
    from signing.services import declarations, endorsement_queries

    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "--complete"])
    assert result.exit_code == 0, result.output
    expected = len(DEMO_ORGANISATIONS) + DEMO_PEOPLE
    assert f"{expected} endorsements added" in result.output
    declaration = declarations.get(demo.DEMO_SLUG)
    counts = endorsement_queries.counts(declaration)
    assert counts.total == expected and counts.by_kind["organisation"] == len(DEMO_ORGANISATIONS)
    page = app.test_client().get(f"/public/declarations/{demo.DEMO_SLUG}").get_data(as_text=True)
    assert f'id="endorsement-total">{expected}<' in page
    assert "Black Sea NGO Network" in page and "badge verified" in page
    found = app.test_client().get(f"/d/{demo.DEMO_SLUG}/endorsements?q=black+sea").get_data(as_text=True)
    assert "Black Sea NGO Network" in found and "badge verified" in found
    digest = runner.invoke(args=["endorsements", "digest", "--day", "2000-01-01"])
    assert digest.exit_code == 0 and "No new endorsements that day." in digest.output
