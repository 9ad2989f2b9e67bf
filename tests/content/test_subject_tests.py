"""Subject tests: the statistics by hand and by simulation, and a test's whole path through a send."""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid

import pytest
from flask import g
from sqlalchemy import func, insert, select

from content import pacing, send_control, sending, subject_tests
from content import subject_test_metrics as stm
from content.models import Post, Send, SendState, SubjectTest
from growth import auth
from growth.db import commit, db, utcnow
from growth.errors import ValidationFailed
from growth.models import Delivery, EmailEvent
from tests.content.conftest import add_subscribers, csrf_from, make_post
from tests.growth.helpers import login_as, messages

# --- the statistics, by hand -------------------------------------------------------------------


def test_wilson_and_newcombe_match_the_published_examples():
    # Newcombe (1998), Statistics in Medicine 17:873-890, table II, method 10.
    z = 1.959964
    for (x1, n1, x2, n2), (low, high) in {
        (56, 70, 48, 80): (0.0524, 0.3339),
        (9, 10, 3, 10): (0.1705, 0.8090),
        (6, 7, 2, 7): (0.0582, 0.8062),
    }.items():
        d, lo, hi = stm.newcombe(x1, n1, x2, n2, z)
        assert d == pytest.approx(x1 / n1 - x2 / n2)
        assert (round(lo, 4), round(hi, 4)) == (low, high)
    # Wilson's interval for 81 of 263 (a textbook case): 0.2553 to 0.3662.
    assert tuple(round(v, 4) for v in stm.wilson(81, 263, z)) == (0.2553, 0.3662)
    assert stm.wilson(0, 0, z) == (0.0, 1.0)


def test_bonferroni_widens_the_interval_with_every_pair():
    assert stm.pairs(2) == 1 and stm.pairs(3) == 3 and stm.pairs(4) == 6
    assert stm.z_for(2) == pytest.approx(1.959964, abs=1e-6)
    assert stm.z_for(4) == pytest.approx(2.638257, abs=1e-6)  # 1 - 0.05 / 12, two-sided


def test_a_clear_winner_and_no_clear_winner():
    clear = stm.decide([(300, 1000), (380, 1000)])
    assert clear.winner == 1 and clear.chosen == 1 and clear.clear
    (comparison,) = clear.comparisons
    assert comparison.difference == pytest.approx(-0.08)
    assert comparison.high < 0
    close = stm.decide([(300, 1000), (320, 1000)])
    assert close.winner is None and close.chosen == 1  # the higher observed rate still goes out
    # A tie, or nothing measured: the first listed.
    assert stm.decide([(10, 100), (10, 100)]).chosen == 0
    assert stm.decide([(0, 0), (0, 0)]).chosen == 0
    assert stm.decide([(0, 0), (0, 0)]).winner is None


def test_a_winner_must_beat_every_other_variant():
    # 2 beats 0 clearly but not 1: nobody wins, though 2 is chosen.
    d = stm.decide([(300, 1000), (395, 1000), (400, 1000)])
    assert d.winner is None and d.chosen == 2
    d = stm.decide([(300, 1000), (300, 1000), (420, 1000), (310, 1000)])
    assert d.winner == 2
    with pytest.raises(ValueError):
        stm.decide([(1, 10)])
    with pytest.raises(ValueError):
        stm.decide([(11, 10), (1, 10)])


def test_detectable_lift_by_hand():
    # (1.959964 + 0.841621) * sqrt(2 * 0.3 * 0.7 / 1000) = 2.801585 * 0.0204939 = 0.0574154
    assert stm.detectable_lift(1000, 2, 0.3) == pytest.approx(0.0574154, abs=1e-6)
    # Four variants: z = 2.638257; (2.638257 + 0.841621) * sqrt(0.42 / 1000) = 0.0713165
    assert stm.detectable_lift(1000, 4, 0.3) == pytest.approx(0.0713165, abs=1e-6)
    assert stm.detectable_lift(0, 2, 0.3) is None
    assert stm.sample_sizes(10_000, 3, 0.10) == 333
    assert stm.sample_sizes(15, 2, 0.10) == 0


# --- simulated opens with a known truth --------------------------------------------------------


def _simulate(rates: list[float], n: int, runs: int, seed: int) -> list[stm.Decision]:
    rng = random.Random(seed)
    out = []
    for _ in range(runs):
        results = [(sum(rng.random() < p for _ in range(n)), n) for p in rates]
        out.append(stm.decide(results))
    return out


@pytest.mark.parametrize(("k", "runs"), [(2, 2000), (4, 800)])
def test_a_true_null_rarely_declares_a_winner(k, runs):
    decisions = _simulate([0.3] * k, 400, runs, seed=k)
    false_winners = sum(d.winner is not None for d in decisions) / runs
    # The family-wise rate is at most 5% by construction; three standard errors of slack.
    assert false_winners <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / runs)
    print(f"k={k}: a true null declared a winner in {false_winners:.1%} of {runs} tests")


def test_a_real_lift_the_samples_can_detect_is_found_and_never_reversed():
    n = 1000
    lift = stm.detectable_lift(n, 2, 0.3)
    assert lift is not None
    decisions = _simulate([0.3, 0.3 + lift], n, 600, seed=7)
    found = [d for d in decisions if d.winner is not None]
    assert len(found) / len(decisions) >= 0.72  # 80% power, less the normal approximation's slack
    assert all(d.winner == 1 for d in found)
    print(f"power at the detectable lift ({lift:.3f}): {len(found) / len(decisions):.0%}")


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subjects", "share", "metric", "wait", "code"),
    [
        (["only one"], None, None, None, "invalid_subjects"),
        (["a", "b", "c", "d", "e"], None, None, None, "invalid_subjects"),
        (["Same", "same "], None, None, None, "invalid_subjects"),
        (["a", "b\r\nBcc: x@example.com"], None, None, None, "invalid_characters"),
        (["a", ""], None, None, None, "missing_field"),
        (["a", "b"], 0.01, None, None, "invalid_share"),
        (["a", "b"], True, None, None, "invalid_share"),
        (["a", "b"], "lots", None, None, "invalid_share"),
        (["a", "b"], None, "revenue", None, "invalid_metric"),
        (["a", "b"], None, None, 5, "invalid_wait"),
        (["a", "b"], None, None, "4h", "invalid_wait"),
        ("a, b", None, None, None, "invalid_subjects"),
    ],
)
def test_bad_plans_are_refused_by_name(subjects, share, metric, wait, code):
    with pytest.raises(ValidationFailed) as caught:
        subject_tests.parse_plan(subjects, share, metric, wait)
    assert caught.value.code == code


def test_defaults():
    plan = subject_tests.parse_plan([" One ", "Two"])
    assert plan == subject_tests.TestPlan(["One", "Two"], 0.10, "opens", 240)


# --- a test's path through a send ------------------------------------------------------------


def _open(session, delivery_ids: list[int], at: dt.datetime, machine: bool = False) -> None:  # type: ignore[no-untyped-def]
    rows = [
        {
            "event_id": f"t-{uuid.uuid4().hex}",
            "type": "open",
            "subscriber_id": session.get(Delivery, did).subscriber_id,
            "delivery_id": did,
            "at": at,
            "is_machine": machine,
            "is_scanner": False,
        }
        for did in delivery_ids
    ]
    if rows:
        session.execute(insert(EmailEvent), rows)


def _by_subject(session, send_id: int) -> dict[str, list[int]]:  # type: ignore[no-untyped-def]
    out: dict[str, list[int]] = {}
    for did, subject in session.execute(
        select(Delivery.id, Delivery.subject).where(Delivery.send_id == send_id).order_by(Delivery.id)
    ):
        out.setdefault(subject, []).append(did)
    return out


def _start_test(app, post_id: int, subjects: list[str], share: float = 0.2):  # type: ignore[no-untyped-def]
    with app.app_context():
        plan = subject_tests.parse_plan(subjects, share, "opens", 60)
        send = sending.create_send(db.session, db.session.get(Post, post_id), "all", utcnow(), test=plan)
        commit()
        return send.id


def test_samples_go_first_then_the_winner_goes_to_everyone_else(sg_app, session, fake_sendgrid):  # type: ignore[no-untyped-def]
    ids = add_subscribers(session, 200)
    post = make_post(session, title="The post's own title")
    session.commit()
    send_id = _start_test(sg_app, post.id, ["Plain subject", "Curious subject"])
    session.expire_all()
    send = session.get(Send, send_id)
    test = session.get(SubjectTest, send_id)
    assert send.state == SendState.TESTING
    assert test.per_variant == 20 and test.decide_at is not None
    groups = _by_subject(session, send_id)
    assert sorted(groups) == ["Curious subject", "Plain subject"]
    assert [len(g) for g in groups.values()] == [20, 20]
    # The emails went with their own subject, 20 each, and nobody else got anything yet.
    assert sorted((body["subject"], len(body["personalizations"])) for body in fake_sendgrid.requests) == [
        ("Curious subject", 20),
        ("Plain subject", 20),
    ]
    sampled = set(session.scalars(select(Delivery.subscriber_id).where(Delivery.send_id == send_id)))
    assert sampled != set(ids[:40])  # drawn at random, not the first ids
    # Humans open the curious one; Apple Mail "opens" the plain one, which counts for nothing.
    now = utcnow()
    _open(session, groups["Curious subject"][:18], now)
    _open(session, groups["Plain subject"][:2], now)
    _open(session, groups["Plain subject"][2:], now, machine=True)
    session.commit()
    with sg_app.app_context():
        assert send_control.send_due(db.session, now)["tests_decided"] == 0  # not yet its time
        commit()
        due = test.decide_at + dt.timedelta(seconds=1)
        assert send_control.send_due(db.session, due)["tests_decided"] == 1
        commit()
    session.expire_all()
    test = session.get(SubjectTest, send_id)
    assert test.result["winner"] == 1 and test.chosen == 1
    assert [v["successes"] for v in test.result["variants"]] == [2, 18]
    assert test.result["basis"] == "sent"  # the fake reports no deliveries
    assert session.get(Send, send_id).state == SendState.DONE
    rest = [b for b in fake_sendgrid.requests[2:]]
    assert {b["subject"] for b in rest} == {"Curious subject"}
    everyone = [p["to"][0]["email"] for b in fake_sendgrid.requests for p in b["personalizations"]]
    assert len(everyone) == len(set(everyone)) == 200  # nobody twice, nobody left out
    count = session.scalar(select(func.count()).where(Delivery.send_id == send_id))
    assert count == 200
    # Read once: later opens change nothing, and a second decision does nothing.
    _open(session, groups["Plain subject"][2:], utcnow())
    session.commit()
    with sg_app.app_context():
        subject_tests.decide(db.session, db.session.get(SubjectTest, send_id), utcnow())
        commit()
    session.expire_all()
    assert session.get(SubjectTest, send_id).result["winner"] == 1


def test_no_clear_winner_sends_the_higher_observed_rate(sg_app, session, fake_sendgrid):  # type: ignore[no-untyped-def]
    add_subscribers(session, 100)
    post = make_post(session)
    session.commit()
    send_id = _start_test(sg_app, post.id, ["First", "Second", "Third"], share=0.3)
    groups = _by_subject(session, send_id)
    assert [len(groups[s]) for s in ("First", "Second", "Third")] == [10, 10, 10]
    _open(session, groups["First"][:3], utcnow())
    _open(session, groups["Second"][:4], utcnow())
    _open(session, groups["Third"][:2], utcnow())
    session.commit()
    with sg_app.app_context():
        subject_tests.decide_now(db.session, db.session.get(Send, send_id), utcnow())
        commit()
    session.expire_all()
    test = session.get(SubjectTest, send_id)
    assert test.result["winner"] is None and test.chosen == 1
    assert len(test.result["comparisons"]) == 3
    assert {b["subject"] for b in fake_sendgrid.requests[3:]} == {"Second"}
    assert session.get(Send, send_id).state == SendState.DONE


def test_too_small_an_audience_sends_everyone_the_first_subject(sg_app, session, fake_sendgrid):  # type: ignore[no-untyped-def]
    add_subscribers(session, 5)
    post = make_post(session)
    session.commit()
    send_id = _start_test(sg_app, post.id, ["Alpha", "Beta"], share=0.1)
    session.expire_all()
    test = session.get(SubjectTest, send_id)
    assert test.result == {"tested": False, "reason": "audience too small for a sample per subject"}
    assert {b["subject"] for b in fake_sendgrid.requests} == {"Alpha"}
    assert sum(len(b["personalizations"]) for b in fake_sendgrid.requests) == 5


def test_the_api_takes_a_test_and_says_what_it_can_detect(app, client, session, creator_token):  # type: ignore[no-untyped-def]
    add_subscribers(session, 50)
    post = make_post(session)
    session.commit()
    headers = {"Authorization": f"Bearer {creator_token}"}
    later = (utcnow() + dt.timedelta(hours=3)).isoformat()
    url = f"/api/v1/posts/{post.id}/sends"
    for body, status, code in [
        ({"subjects": ["one"]}, 400, None),
        ({"subjects": ["A", "a"]}, 422, "invalid_subjects"),
        ({"subjects": ["A", "B"], "test": {"share": 3}}, 400, None),
        ({"subjects": ["A", "B"], "test": {"metric": "money"}}, 400, None),
        ({"test": {"share": 0.2}}, 400, "invalid_subjects"),
        ({"subjects": "A|B"}, 400, None),
    ]:
        answer = client.post(url, json=body, headers=headers)
        assert answer.status_code == status, (body, answer.json)
        assert set(answer.json["error"]) >= {"code", "message"}
        if code:
            assert answer.json["error"]["code"] == code
    answer = client.post(
        url,
        json={"subjects": ["A", "B"], "scheduled_at": later, "test": {"share": 0.5, "wait_minutes": 90}},
        headers=headers,
    )
    assert answer.status_code == 202, answer.json
    test = answer.json["subject_test"]
    assert test["subjects"] == ["A", "B"] and test["wait_minutes"] == 90
    outlook = test["outlook"]
    assert outlook["per_variant"] == 12 and outlook["rest"] == 26
    assert outlook["detectable_lift"] == pytest.approx(stm.detectable_lift(12, 2, 0.30))
    assert outlook["baseline_measured"] is False and "Apple Mail" in outlook["note"]
    send_id = answer.json["id"]
    assert client.post(f"/api/v1/sends/{send_id}/decide", headers=headers).status_code == 409
    assert client.post(f"/api/v1/sends/{send_id}/decide").status_code == 401


def test_a_capped_newsletter_cannot_run_a_test(app, client, session, creator_token):  # type: ignore[no-untyped-def]
    add_subscribers(session, 10)
    post = make_post(session)
    pacing.set_rate(session, post.newsletter_id, 100, utcnow())
    session.commit()
    headers = {"Authorization": f"Bearer {creator_token}"}
    answer = client.post(f"/api/v1/posts/{post.id}/sends", json={"subjects": ["A", "B"]}, headers=headers)
    assert answer.status_code == 422 and answer.json["error"]["code"] == "capped_newsletter"


def test_the_admin_form_shows_what_the_test_can_detect_then_runs_it(client, session, outbox):  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "tester@example.com", "a-long-password", "creator")
    add_subscribers(session, 40)
    post = make_post(session)
    session.commit()
    g.pop("operator", None)
    login_as(client, operator)
    edit = client.get(f"/admin/posts/{post.id}").get_data(as_text=True)
    assert "Test subject lines" in edit
    token = csrf_from(edit)
    form = {
        "csrf_token": token,
        "segment": "all",
        "subjects": ["Short", "A longer subject line", ""],
        "test_share": "50",
        "test_metric": "opens",
        "test_wait_minutes": "60",
    }
    bad = client.post(f"/admin/posts/{post.id}/sends", data={**form, "test_share": "ten"})
    assert bad.status_code == 422 and "percentage" in bad.get_data(as_text=True)
    asked = client.post(f"/admin/posts/{post.id}/sends", data=form).get_data(as_text=True)
    assert "10 readers get each subject first" in asked
    lift = stm.detectable_lift(10, 2, 0.30)
    assert f"{lift * 100:.1f} points" in asked and "Apple Mail" in asked
    tiny = client.post(f"/admin/posts/{post.id}/sends", data={**form, "test_share": "5"}).get_data(
        as_text=True
    )
    assert "1 reader gets each subject first" in tiny and "cannot tell subject lines apart" in tiny
    assert "points</b>" not in tiny and tiny.count("<h2>Subject test</h2>") == 1
    assert messages(outbox, "post") == []
    sent = client.post(f"/admin/posts/{post.id}/sends", data={**form, "confirmed": "yes"})
    assert sent.status_code == 302, sent.get_data(as_text=True)
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "testing" in page and "Decide now" in page
    subjects = sorted(m["Subject"] for m in messages(outbox, "post"))
    assert subjects == ["A longer subject line"] * 10 + ["Short"] * 10
    decided = client.post(sent.headers["Location"] + "/decide", data={"csrf_token": token})
    assert decided.status_code == 302
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "No clear winner" in page and "Newcombe" in page
    assert len(messages(outbox, "post")) == 40
