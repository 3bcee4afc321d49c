from tests.conftest import auth_header


def test_console_and_workspace_render_for_admin(msp_admin, alpha, login_as):
    http = login_as(msp_admin)
    assert http.get("/").status_code == 200
    response = http.get("/c/alpha/")
    assert response.status_code == 200
    assert b"Alpha Corp" in response.content


def test_client_key_reads_own_alerts_and_never_another_clients(alpha, beta, api_key_for, client):
    _, secret = api_key_for(alpha, ["read"])
    assert client.get("/c/alpha/api/v1/alerts/", **auth_header(secret)).status_code == 200
    assert client.get("/c/beta/api/v1/alerts/", **auth_header(secret)).status_code == 404
