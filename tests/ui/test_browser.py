"""The UI in a real browser: log in, trigger with conf, watch the grid turn green, read a failed
task's log, clear it and see it rerun, and the "why isn't it running" panel on a starved task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.ui.home import PASSWORD, Standalone

pytestmark = pytest.mark.slow  # a real standalone and a browser
API = "/api/v1"


def _csrf(page: Any) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "windvane_csrf")


def _api_post(page: Any, server: Standalone, path: str, body: dict[str, Any]) -> Any:
    r = page.request.post(server.url + API + path, data=body, headers={"X-CSRF-Token": _csrf(page)})
    assert r.ok, r.text()
    return r.json()


def _trigger(page: Any, server: Standalone, dag_id: str, run_id: str) -> None:
    page.goto(f"{server.url}/ui/#/dag/{dag_id}/trigger")
    page.fill("#run-id", run_id)
    page.click("#trigger-submit")
    page.wait_for_url(f"**/ui/#/dag/{dag_id}/grid?run={run_id}")


def _assert_controls_labelled(page: Any) -> None:
    """Every form control on the page has an accessible name (a label or aria-label)."""
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
             .filter((e) => !e.labels?.length && !e.getAttribute('aria-label')
                            && !e.getAttribute('aria-labelledby'))
             .map((e) => e.outerHTML)"""
    )
    assert unnamed == []


def _wait_square(page: Any, label: str, state: str, timeout: float = 45_000) -> None:
    """Wait until the grid's square whose label starts with ``label`` shows ``state``."""
    page.wait_for_function(
        """([label, state]) => [...document.querySelectorAll('#grid .sq')].some(
             (e) => e.getAttribute('aria-label').startsWith(label) && e.classList.contains('s-' + state))""",
        arg=[label, state],
        timeout=timeout,
    )


def test_login_refuses_a_wrong_password_then_returns_to_the_page(
    browser: Any, server: Standalone, shots: Path
) -> None:
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(server.url + "/ui/#/dags")
    page.wait_for_selector("form.login")  # not logged in: the login form, not the DAGs
    page.screenshot(path=str(shots / "login.png"))
    page.fill("#username", "admin")
    page.fill("#password", "wrong password")
    page.click("form.login button[type=submit]")
    page.wait_for_selector("#login-error:has-text('Wrong user name or password')")
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("table.dags")  # back where it was going
    assert page.url.endswith("#/dags")
    page.close()


def test_trigger_with_conf_and_watch_the_grid_turn_green(page: Any, server: Standalone, shots: Path) -> None:
    page.fill("#dag-tag", "ui")
    page.click("form.filters button[type=submit]")
    page.wait_for_selector("#import-banner .banner:has-text('broken.py')")  # the broken file, named
    page.wait_for_function("document.querySelectorAll('table.dags tbody tr').length === 3")
    page.click("a[aria-label='Trigger ui_params']")
    page.wait_for_selector("#trigger-form")
    assert page.input_value("#param-greeting") == "hello"  # the form comes from the DAG's params
    page.fill("#param-greeting", "bonjour")
    page.fill("#param-count", "3")
    page.check("#param-loud")
    page.fill("#conf-extra", "[1, 2]")  # not an object: refused before anything is sent
    page.fill("#run-id", "ui_conf_run")
    page.click("#trigger-submit")
    page.wait_for_selector("#conf-extra-error:has-text('must be a JSON object')")
    page.screenshot(path=str(shots / "trigger.png"))
    _assert_controls_labelled(page)
    page.fill("#conf-extra", '{"note": "from the UI"}')
    page.click("#trigger-submit")
    page.wait_for_url("**/ui/#/dag/ui_params/grid?run=ui_conf_run")

    for task in ("begin", "work.say", "work.count", "end"):
        _wait_square(page, f"{task} in ui_conf_run", "success")
    run = page.request.get(f"{server.url}{API}/dags/ui_params/dagRuns/ui_conf_run").json()
    assert run["conf"] == {"note": "from the UI", "greeting": "bonjour", "count": 3, "loud": True}
    page.screenshot(path=str(shots / "grid.png"))
    _assert_controls_labelled(page)
    stamp = page.locator("#grid time").first  # local time shown (Europe/Paris here), UTC on hover
    assert stamp.get_attribute("title").endswith("Z UTC") and stamp.get_attribute("datetime").endswith("Z")

    page.click("button[aria-expanded='true']:has-text('work')")  # collapse the task group
    page.wait_for_selector("button[aria-expanded='false']:has-text('work')")
    assert page.locator("#grid .sq[aria-label^='work.say in']").count() == 0

    page.click("nav.tabs a:has-text('Graph')")
    page.wait_for_selector("#graph svg a[aria-label='work.say: success']")
    page.screenshot(path=str(shots / "graph.png"))
    _assert_controls_labelled(page)
    page.click("#graph g[aria-label='Collapse group work']")
    page.wait_for_selector("#graph g[aria-label='Expand group work: success']")

    page.click("nav.tabs a:has-text('Gantt')")
    page.wait_for_selector("#gantt .gantt-bar.s-success")
    page.screenshot(path=str(shots / "gantt.png"))

    page.goto(f"{server.url}/ui/#/ti/ui_params/ui_conf_run/work.say")
    page.wait_for_selector("#log:has-text('bonjour x3')")
    # The command as the try rendered it, stored by the worker with the try's end.
    page.wait_for_selector("#rendered-fields dt:has-text('bash_command')")
    assert "echo 'bonjour x3'" in page.locator("#rendered-fields").inner_text()
    page.goto(f"{server.url}/ui/#/dags?tag=ui")
    page.wait_for_selector("table.dags .sq.s-success")
    page.screenshot(path=str(shots / "dags.png"))
    _assert_controls_labelled(page)


def test_a_failed_task_log_then_clear_and_rerun(page: Any, server: Standalone, shots: Path) -> None:
    _trigger(page, server, "ui_flaky", "flaky_run")
    _wait_square(page, "flaky in flaky_run", "failed")
    page.click("#grid a.sq[aria-label^='flaky in flaky_run']")
    page.wait_for_selector("#ti-summary .badge.s-failed")
    page.wait_for_selector("#log:has-text('no marker yet')")
    page.screenshot(path=str(shots / "task_instance.png"), full_page=True)
    _assert_controls_labelled(page)

    server.marker.write_text("")  # the next try succeeds
    page.click("#btn-clear")
    dialog = page.locator("dialog.confirm")
    assert "ui_flaky / flaky_run / flaky" in dialog.inner_text()  # names what will change
    dialog.locator("button:has-text('Clear')").click()
    page.wait_for_selector("#ti-summary .badge.s-success", timeout=45_000)
    page.wait_for_selector("#tries tbody tr:has-text('2')")


def test_why_panel_on_a_task_blocked_by_a_full_pool(page: Any, server: Standalone, shots: Path) -> None:
    _api_post(page, server, "/pools", {"name": "tiny", "slots": 0, "description": "full on purpose"})
    _trigger(page, server, "ui_pool", "starved_run")
    page.goto(f"{server.url}/ui/#/ti/ui_pool/starved_run/starved")
    page.wait_for_selector('#ti-why h3:has-text("Why isn\'t this task running?")')
    why = page.locator("#ti-why")
    page.wait_for_selector("#why-reasons")
    assert "tiny" in why.inner_text()
    page.screenshot(path=str(shots / "why.png"))

    # Regression: a 404 from the explanation showed a fixed "not available on this server"
    # placeholder; it shows the API's own message (what is missing).
    detail = "DAG run 'starved_run' of DAG 'ui_pool' does not exist"
    why_url = "**/taskInstances/starved/why"
    page.route(why_url, lambda route: route.fulfill(status=404, json={"detail": detail}))
    page.goto(f"{server.url}/ui/#/dags")
    page.goto(f"{server.url}/ui/#/ti/ui_pool/starved_run/starved")
    page.wait_for_selector(f'#why-missing:has-text("{detail}")')
    page.unroute(why_url)

    page.goto(f"{server.url}/ui/#/pools")
    page.wait_for_selector("#pools tr:has-text('tiny')")
    page.screenshot(path=str(shots / "pools.png"))
    _assert_controls_labelled(page)
    page.goto(f"{server.url}/ui/#/import-errors")
    page.wait_for_selector("#import-errors:has-text('no_such_name')")
    page.screenshot(path=str(shots / "import_errors.png"))
    page.goto(f"{server.url}/ui/#/audit")
    page.wait_for_selector("#audit td:has-text('create_pool')")
    page.screenshot(path=str(shots / "audit_log.png"))
    _assert_controls_labelled(page)
