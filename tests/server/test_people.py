"""Users and who is responsible for which grid, through the API."""

from __future__ import annotations

from tests.server.grid_files import city_features, collection


def setup_city(client, headers) -> None:
    files = {"file": ("grids.geojson", collection(city_features()), "application/geo+json")}
    assert client.post("/api/grids/import", files=files, headers=headers).status_code == 200


def add_user(client, headers, name, phone, roles) -> dict:
    resp = client.post("/api/users", json={"name": name, "phone": phone, "roles": roles}, headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_users_are_created_listed_and_unique(client, admin_headers):
    add_user(client, admin_headers, "张伟", "13900000001", ["inspector"])
    add_user(client, admin_headers, "李娜", "13900000002", ["acceptor", "shift_lead", "dispatcher"])
    clash = client.post("/api/users", json={"name": "X", "phone": "13900000001"}, headers=admin_headers)
    assert clash.status_code == 409 and clash.json()["code"] == "users.phone_taken"
    assert clash.json()["params"]["phone"] == "13900000001" and "13900000001" in clash.json()["detail"]
    by_name = {"name": "X", "phone": "13900000003", "username": "zhangwei"}
    assert client.post("/api/users", json=by_name, headers=admin_headers).status_code == 201
    clash = client.post("/api/users", json={**by_name, "phone": "13900000004"}, headers=admin_headers)
    assert clash.status_code == 409 and clash.json()["code"] == "users.username_taken"
    bad = client.post(
        "/api/users", json={"name": "X", "phone": "12ab", "roles": ["king"]}, headers=admin_headers
    )
    assert bad.status_code == 422 and bad.json()["code"] == "validation.request"
    assert [e["loc"] for e in bad.json()["errors"]] == [["body", "phone"], ["body", "roles", 0]]
    assert bad.json()["errors"][0]["msg"] == "手机号的格式不对，请按说明填写"
    inspectors = client.get("/api/users", params={"role": "inspector"}, headers=admin_headers).json()
    assert [u["name"] for u in inspectors] == ["张伟"]
    assert client.get("/api/users").status_code == 401  # phone numbers are not public


def test_heads_replace_each_other_inspectors_accumulate_history_is_kept(client, admin_headers):
    setup_city(client, admin_headers)
    add_user(client, admin_headers, "王芳", "13900000011", ["grid_head"])
    add_user(client, admin_headers, "赵强", "13900000012", ["grid_head"])
    for phone in ("13900000021", "13900000022"):
        add_user(client, admin_headers, f"巡查员{phone[-2:]}", phone, ["inspector"])

    def assign(code, user, role, starts_on=None):
        body = {"user": user, "role": role, "starts_on": starts_on}
        return client.post(f"/api/grids/{code}/assignments", json=body, headers=admin_headers)

    assert assign("370102001", "13900000011", "head", "2026-01-01").status_code == 201
    assert assign("370102001", "13900000012", "head", "2026-06-01").status_code == 201
    assert assign("370102001", "13900000021", "inspector").status_code == 201
    assert assign("370102001", "13900000022", "inspector").status_code == 201
    again = assign("370102001", "13900000022", "inspector")
    assert again.status_code == 409 and again.json()["code"] == "grid.already_inspector"
    assert again.json()["detail"] == "巡查员22 已经是网格 370102001 的网格员，无需再指派"
    add_user(client, admin_headers, "孙丽", "13900000013", ["grid_head"])
    early = assign("370102001", "13900000013", "head", "2026-03-01")  # 赵强 takes over on 2026-06-01
    assert early.status_code == 409 and early.json()["code"] == "grid.head_scheduled"
    assert early.json()["params"] == {"grid": "370102001", "starts_on": "2026-06-01"}
    assert assign("370199001", "13900000021", "inspector").json()["code"] == "grid.not_found"
    assert assign("370102001", "19999999999", "inspector").status_code == 404

    current = client.get("/api/grids/370102001/assignments", headers=admin_headers).json()
    assert sorted((a["role"], a["name"]) for a in current) == [
        ("head", "赵强"),
        ("inspector", "巡查员21"),
        ("inspector", "巡查员22"),
    ]
    ended = client.post(
        f"/api/assignments/{current[-1]['assignment_id']}/end", json={}, headers=admin_headers
    )
    assert ended.status_code == 200 and ended.json()["ends_on"] is not None
    gone = client.post("/api/assignments/999999/end", json={}, headers=admin_headers)
    assert gone.status_code == 404 and gone.json()["code"] == "grid.no_assignment"
    history = client.get(
        "/api/grids/370102001/assignments", params={"include_ended": True}, headers=admin_headers
    ).json()
    first_head = next(a for a in history if a["name"] == "王芳")
    # The next head took over on 2026-06-01: the first one's last day was the day before.
    assert (first_head["starts_on"], first_head["ends_on"]) == ("2026-01-01", "2026-05-31")
    assert len(history) == 4
    people = client.get("/api/grids/370102001", headers=admin_headers).json()["people"]
    assert len(people) == 3  # ended today: in force through today, its last day
