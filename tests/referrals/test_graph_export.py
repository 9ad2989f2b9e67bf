"""GET /api/v1/referrals/graph: GraphML and node-link JSON that networkx reads back whole."""

from __future__ import annotations

import io
import json

import networkx as nx
import pytest

from growth import access, auth
from referrals import cascade_pictures, graph_export
from tests.referrals.helpers import by_email, join, operator_token, refer
from tests.referrals.test_pages_and_api import csrf_of


def _people(client, session, outbox):  # type: ignore[no-untyped-def]
    """Ana -> Bo -> Cy, Ana -> Dee (from a podcast), and Eve alone (no counted referral)."""
    join(client, outbox, "ana@example.com", utm_source="newsletter")
    refer(client, session, outbox, "ana@example.com", "bo@example.com", ip="192.0.2.1")
    refer(client, session, outbox, "bo@example.com", "cy@example.com", ip="192.0.2.2")
    refer(client, session, outbox, "ana@example.com", "dee@example.com", ip="192.0.2.3", source="podcast")
    join(client, outbox, "eve@example.com", ip="192.0.2.4")
    return {n: by_email(session, f"{n}@example.com") for n in ("ana", "bo", "cy", "dee", "eve")}


@pytest.fixture
def billing_answers(session):  # type: ignore[no-untyped-def]
    """Revenue and a paying tier for Cy, as billing would answer."""
    saved = (access._revenue_lookup, access._tier_lookup)
    ids: dict[str, int] = {}
    access.register_revenue_lookup(lambda _s: {ids["cy"]: {"usd": 500, "eur": 120}})
    access.register_tier_lookup(lambda _s, _ids=None: {ids["cy"]: 1})
    yield ids
    access._revenue_lookup, access._tier_lookup = saved


def test_graphml_round_trips_through_networkx_with_every_attribute(client, session, outbox, billing_answers):
    people = _people(client, session, outbox)
    billing_answers.update({k: v.id for k, v in people.items()})
    headers = {"Authorization": f"Bearer {operator_token(session)}"}
    answer = client.get("/api/v1/referrals/graph?format=graphml&emails=true", headers=headers)
    assert answer.status_code == 200 and answer.content_type.startswith("application/graphml+xml")
    assert answer.is_streamed
    g = nx.read_graphml(io.BytesIO(answer.data), node_type=int)
    ana, bo, cy, dee, eve = (people[n].id for n in ("ana", "bo", "cy", "dee", "eve"))
    assert isinstance(g, nx.DiGraph) and set(g.nodes) == {ana, bo, cy, dee} and eve not in g
    assert set(g.edges) == {(ana, bo), (bo, cy), (ana, dee)}
    today = people["ana"].confirmed_at.date().isoformat()
    assert g.nodes[ana] == {
        "confirmed": today,
        "source": people["ana"].source or "",
        "status": "active",
        "stage": people["ana"].stage,
        "paying": False,
        "downstream": 3,
        "email": "ana@example.com",
        "revenue_eur": 0,
        "revenue_usd": 0,
    }
    assert g.nodes[cy]["paying"] is True and (g.nodes[cy]["revenue_usd"], g.nodes[cy]["revenue_eur"]) == (
        500,
        120,
    )
    assert g.nodes[dee]["source"] == "podcast" and g.nodes[bo]["downstream"] == 1
    # the same graph as networkx's own writer would lay it out: its reader sees no difference
    ours = nx.read_graphml(io.BytesIO(answer.data))
    theirs = nx.read_graphml(io.BytesIO("\n".join(nx.generate_graphml(ours)).encode()))
    assert nx.utils.graphs_equal(ours, theirs)


def test_node_link_json_and_who_sees_what(client, session, outbox, billing_answers):
    people = _people(client, session, outbox)
    billing_answers.update({k: v.id for k, v in people.items()})
    admin = {"Authorization": f"Bearer {operator_token(session)}"}
    creator_op = auth.create_operator(session, "writer@example.com", "a long password here", role="creator")
    creator = {"Authorization": f"Bearer {auth.create_token(session, creator_op)}"}
    session.flush()
    data = json.loads(client.get("/api/v1/referrals/graph?format=json", headers=admin).data)
    g = nx.node_link_graph(data, directed=True, multigraph=False)
    cy = people["cy"].id
    assert g.number_of_nodes() == 4 and g.number_of_edges() == 3
    assert g.nodes[cy]["revenue_usd"] == 500 and "email" not in g.nodes[cy]  # emails only when asked
    # a creator: the growth graph without revenue; emails refused
    seen = json.loads(client.get("/api/v1/referrals/graph?format=json", headers=creator).data)
    assert all(not any(k.startswith("revenue_") for k in node) for node in seen["nodes"])
    refused = client.get("/api/v1/referrals/graph?emails=true", headers=creator)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "emails_for_admins"
    creator_graphml = nx.read_graphml(io.BytesIO(client.get("/api/v1/referrals/graph", headers=creator).data))
    assert all("revenue_usd" not in attrs for _n, attrs in creator_graphml.nodes(data=True))
    for bad in ("format=gexf", "emails=maybe"):
        answer = client.get(f"/api/v1/referrals/graph?{bad}", headers=admin)
        assert answer.status_code == 400 and "error" in answer.get_json(), bad
    assert client.application.test_client().get("/api/v1/referrals/graph").status_code == 401


def test_an_empty_graph_and_text_xml_cannot_carry():
    source = graph_export.GraphSource(
        [("source", "string"), ("paying", "boolean")],
        iter([(7, {"source": "a\x00b<&>\x1f", "paying": True})]),
        iter([]),
    )
    text = "\n".join(graph_export.graphml_lines(source))
    g = nx.read_graphml(io.StringIO(text))
    assert g.nodes["7"] == {"source": "ab<&>", "paying": True}
    empty = graph_export.GraphSource(list(graph_export.BASE_ATTRIBUTES), iter([]), iter([]))
    assert nx.read_graphml(io.StringIO("\n".join(graph_export.graphml_lines(empty)))).number_of_nodes() == 0
    loaded = json.loads("".join(graph_export.node_link_chunks(empty)))
    assert (loaded["nodes"], loaded["edges"]) == ([], [])


def test_the_graph_is_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    op = doc["paths"]["/api/v1/referrals/graph"]["get"]
    assert {p["name"] for p in op["parameters"]} == {"format", "emails"}
    assert {"401", "403", "400"} <= set(op["responses"]) and "ReferralGraph" in doc["components"]["schemas"]


def test_tidy_layout_puts_leaves_on_rows_and_parents_between_their_children():
    #   1 -> 2 -> 4
    #   1 -> 2 -> 5
    #   1 -> 3
    tree = nx.DiGraph([(1, 2), (1, 3), (2, 4), (2, 5)])
    layout = cascade_pictures.tidy_layout(tree, 1)
    assert layout == {4: (2, 0.0), 5: (2, 1.0), 2: (1, 0.5), 3: (1, 2.0), 1: (0, 1.25)}
    picture = cascade_pictures.draw(tree, 1, {1: "paying", 4: "engaged"}, size=5, virality=1.6)
    assert (picture.width, picture.height) == (2 * 12 + 2 * 56, 2 * 12 + 2 * 16)
    colours = {n["id"]: n["colour"] for n in picture.nodes}
    assert colours[1] == cascade_pictures.STAGE_COLOURS["paying"]
    assert colours[4] == cascade_pictures.STAGE_COLOURS["engaged"]
    assert colours[3] == cascade_pictures.STAGE_COLOURS["confirmed"]  # unknown: confirmed
    assert len(picture.edges) == 4


def test_admin_page_draws_the_largest_cascades(app, client, session, outbox):
    people = _people(client, session, outbox)
    auth.create_operator(session, "ops@example.com", "correct horse battery staple")
    login = client.get("/admin/login").get_data(as_text=True)
    client.post(
        "/admin/login",
        data={
            "email": "ops@example.com",
            "password": "correct horse battery staple",
            "csrf_token": csrf_of(login),
        },
    )
    page = client.get("/admin/referrals").get_data(as_text=True)
    assert "Largest cascades" in page and f"4 readers from subscriber {people['ana'].id}" in page
    # Ana -> Bo -> Cy, Ana -> Dee: edges split 2|2, 1|3 and 1|3: W = 4 + 3 + 3 over C(4, 2) = 6
    assert "2 generations deep, structural virality 1.67" in page
    assert page.count("<title>subscriber ") == 4 and 'role="img"' in page
