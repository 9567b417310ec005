"""Every expected failure answers with a message in the format the client asked for, the right
status, and never echoes a huge input back whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import OperationalError, connections
from django.test import Client, RequestFactory
from django.urls import get_resolver, reverse

from lessons import datasets
from lessons.errors import Unavailable
from lessons.measure.explain import SALT
from lessons.web.errors import CourseErrorMiddleware
from tests.conftest import join_room

# Damaged dataset files: on PostgreSQL a dataset is no file.
sqlite_files = pytest.mark.skipif(connections["tiny"].vendor != "sqlite", reason="SQLite only")

ROOT = Path(__file__).resolve().parent.parent
RUN_API = reverse("lessons:api-run", args=["n-plus-one", "count-comments.bad"])
RUN_PAGE = reverse("lessons:run", args=["n-plus-one"])


def test_failed_csrf_check_on_the_api_is_json(data: None) -> None:
    response = Client(enforce_csrf_checks=True).post(RUN_API, {"dataset": "tiny"})

    assert response.status_code == 403
    assert response.json()["error"]["type"] == "CsrfFailed"
    assert "Reload the page" in response.json()["error"]["message"]


def test_failed_csrf_check_from_htmx_is_the_message_alone(data: None) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(RUN_PAGE, {"snippet": "count-comments.bad"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 403
    assert response.content.decode().startswith('<p class="problem-message">')


def test_wrong_method_on_the_api_is_explained_in_json(client: Client) -> None:
    response = client.get(RUN_API)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["error"] == {
        "type": "MethodNotAllowed",
        "message": "GET is not accepted here; use POST.",
    }


def test_wrong_method_on_a_page_is_a_page_with_a_message(client: Client) -> None:
    response = client.get(RUN_PAGE)

    assert response.status_code == 405
    assert "GET is not accepted here; use POST." in response.content.decode()


def test_a_huge_dataset_name_is_not_echoed_back(client: Client, data: None) -> None:
    response = client.post(RUN_API, {"dataset": "x" * 100_000})

    assert response.status_code == 400
    assert len(response.json()["error"]["message"]) < 200


def test_a_huge_question_id_is_not_echoed_back(client: Client, data: None) -> None:
    url = reverse("lessons:quiz-answer", args=["n-plus-one"])
    response = client.post(url, {"question": "q" * 200_000, "choice": "0"})

    assert response.status_code == 400
    assert len(response.content) < 20_000


def test_an_unknown_dataset_on_a_quiz_answer_is_refused(client: Client, data: None) -> None:
    url = reverse("lessons:quiz-answer", args=["n-plus-one"])
    response = client.post(url, {"question": "n-plus-one-1", "choice": "0", "dataset": "huge"})

    assert response.status_code == 400


def test_a_validly_signed_but_malformed_plan_token_is_refused(client: Client, data: None) -> None:
    token = signing.dumps({"d": "tiny", "s": "SELECT 1", "p": 5}, salt=SALT, compress=True)

    response = client.post(reverse("lessons:explain"), {"token": token})

    assert response.status_code == 400
    assert "malformed" in response.content.decode()


def test_htmx_request_header_false_gets_the_whole_page(client: Client, data: None) -> None:
    response = client.post(
        RUN_PAGE,
        {"snippet": "count-comments.bad", "dataset": "tiny"},
        HTTP_HX_REQUEST="false",
        follow=True,  # a plain post comes back by a redirect to the page
    )

    assert response.redirect_chain and "<html" in response.content.decode()


def test_a_subclass_of_a_course_error_keeps_its_status() -> None:
    class Busy(Unavailable):
        pass

    request = RequestFactory().get("/api/datasets/")
    response = CourseErrorMiddleware(lambda r: None).process_exception(request, Busy("busy"))  # type: ignore[arg-type, return-value]

    assert response is not None and response.status_code == 503


def test_a_server_started_before_migrate_says_what_to_run() -> None:
    request = RequestFactory().get("/")
    missing = OperationalError("no such table: django_session")

    response = CourseErrorMiddleware(lambda r: None).process_exception(request, missing)  # type: ignore[arg-type, return-value]

    assert response is not None and response.status_code == 503
    assert "make seed" in response.content.decode()


def test_favicon_points_at_the_static_icon(client: Client) -> None:
    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"].endswith("favicon.svg")


def test_importing_settings_creates_nothing(tmp_path: Path) -> None:
    var = tmp_path / "var"
    env = {**os.environ, "COURSE_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "course.settings"}
    code = "import django; django.setup(); from django.conf import settings; settings.SECRET_KEY"

    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)

    assert not var.exists()


@sqlite_files
def test_a_damaged_dataset_is_named_and_rebuilt_by_seed(tmp_path: Path) -> None:
    env = {**os.environ, "COURSE_VAR_DIR": str(tmp_path)}
    tmp_path.joinpath("tiny.sqlite3").write_bytes(b"this is not a database" * 100)
    manage = [sys.executable, str(ROOT / "manage.py")]

    seeded = subprocess.run(
        [*manage, "seed", "--dataset", "tiny"], env=env, capture_output=True, text=True
    )

    assert seeded.returncode == 0, seeded.stderr
    assert "tiny cannot be read (file is not a database); rebuilding it" in seeded.stdout
    assert "tiny built" in seeded.stdout


@sqlite_files
def test_a_damaged_dataset_is_reported_with_its_cause(data: None, tmp_path: Path) -> None:
    from django.db import connections

    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"this is not a database" * 100)
    connection = connections["tiny"]
    original = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = str(broken)
    try:
        error = datasets.DatasetBroken
        try:
            datasets.stats("tiny")
        except error as exc:
            message = exc.message
        else:
            raise AssertionError("a damaged file must not read as a dataset")
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original
    assert "file is not a database" in message and "seed --dataset tiny --force" in message


def test_a_body_larger_than_the_limit_is_refused_before_it_is_read(
    client: Client, data: None
) -> None:
    response = client.post(
        reverse("lessons:api-run-code"), {"code": "print(1)"}, CONTENT_LENGTH=str(300 * 2**20)
    )

    assert response.status_code == 413
    assert response.json()["error"]["type"] == "RequestTooLarge"


def test_a_large_upload_to_a_run_form_is_refused_with_a_message(
    client: Client, data: None, settings: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("big.bin", b"x" * (settings.COURSE_MAX_BODY_BYTES + 1))
    response = client.post(
        reverse("lessons:run", args=["n-plus-one"]),
        {"snippet": "count-comments.bad", "file": upload},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 413
    assert "the course accepts at most" in response.content.decode()


def test_a_body_within_the_limit_still_runs(client: Client, data: None) -> None:
    response = client.post(
        reverse("lessons:api-run-code"), {"code": "# padding\n" * 1000 + "print(1)"}
    )

    assert response.status_code == 200 and response.json()["output"] == "1"


# Django's own refusals, raised while it reads the request (before any view).
MANY_FIELDS = "&".join(f"f{i}=1" for i in range(1_100))  # DATA_UPLOAD_MAX_NUMBER_FIELDS is 1,000
FORM = "application/x-www-form-urlencoded"


def test_too_many_fields_on_the_api_is_json(client: Client, data: None) -> None:
    response = client.post(RUN_API, MANY_FIELDS, content_type=FORM)

    assert response.status_code == 400
    assert response.json()["error"] == {
        "type": "TooManyFields",
        "message": "The request has more fields than the course accepts (at most 1,000). "
        "Nothing was run.",
    }


def test_too_many_fields_in_the_query_string_on_the_api_is_json(client: Client, data: None) -> None:
    response = client.get(f"{reverse('lessons:api-datasets')}?{MANY_FIELDS}")

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "TooManyFields"


def test_too_many_fields_under_debug_is_json_too(client: Client, data: None, settings: Any) -> None:
    settings.DEBUG = True  # where Django answers with its debug page, not handler400

    response = client.post(RUN_API, MANY_FIELDS, content_type=FORM)

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "TooManyFields"


def test_a_multipart_body_without_its_boundary_on_the_api_is_json(
    client: Client, data: None
) -> None:
    response = client.post(RUN_API, b"dataset=tiny", content_type="multipart/form-data")

    assert response.status_code == 400
    assert response.json()["error"] == {
        "type": "BadRequest",
        "message": "The request's form could not be read (Invalid boundary in multipart: None). "
        "Nothing was run.",
    }


def test_a_form_over_djangos_memory_limit_on_the_api_is_json_413(
    client: Client, data: None, settings: Any
) -> None:
    # Within COURSE_MAX_BODY_BYTES (so the declared length passes) but over Django's own limit.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000

    response = client.post(RUN_API, {"dataset": "tiny", "code": "x" * 2_000})

    assert response.status_code == 413
    assert response.json()["error"] == {
        "type": "RequestTooLarge",
        "message": "The request's form is larger than the course accepts (1,000 bytes). "
        "Nothing was run.",
    }


def test_too_many_fields_on_a_page_is_a_page_with_the_message(client: Client, data: None) -> None:
    response = client.post(RUN_PAGE, MANY_FIELDS, content_type=FORM)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "<html" in page and "more fields than the course accepts" in page


def test_too_many_fields_on_a_room_page_is_a_page_with_the_message(room: Any) -> None:
    response = join_room("Ana").post(RUN_PAGE, MANY_FIELDS, content_type=FORM)

    assert response.status_code == 400
    assert "more fields than the course accepts" in response.content.decode()


def test_a_host_the_server_does_not_answer_to_is_json_on_the_api(client: Client) -> None:
    response = client.get(reverse("lessons:api-datasets"), HTTP_HOST="elsewhere.example")

    assert response.status_code == 400
    assert response.json()["error"] == {
        "type": "BadRequest",
        "message": "The request could not be understood.",
    }


def test_an_address_nothing_matches_on_the_api_is_json(client: Client) -> None:
    response = client.get("/api/no-such-thing/")

    assert response.status_code == 404
    assert response.json()["error"] == {
        "type": "NotFound",
        "message": "There is nothing at this address.",
    }


def test_an_address_nothing_matches_is_a_page_for_a_browser(client: Client) -> None:
    response = client.get("/no-such-thing/")

    assert response.status_code == 404
    assert "There is nothing at this address." in response.content.decode()


def test_a_refusal_and_a_failure_on_the_api_are_json() -> None:
    resolver = get_resolver()
    request = RequestFactory().get("/api/datasets/")

    forbidden = resolver.resolve_error_handler(403)(request, exception=PermissionDenied())
    failed = resolver.resolve_error_handler(500)(request)

    assert (forbidden.status_code, json.loads(forbidden.content)["error"]["type"]) == (
        403,
        "Forbidden",
    )
    assert (failed.status_code, json.loads(failed.content)["error"]["type"]) == (
        500,
        "ServerError",
    )


def test_a_body_larger_than_the_limit_on_a_room_page_is_a_page(room: Any) -> None:
    response = Client().post(RUN_PAGE, {"snippet": "x"}, CONTENT_LENGTH=str(300 * 2**20))

    assert response.status_code == 413
    assert "the course accepts at most" in response.content.decode()


@pytest.mark.parametrize("debug", [False, True])
def test_a_lesson_that_does_not_exist_is_the_courses_own_404_page(
    client: Client, settings: Any, debug: bool
) -> None:
    settings.DEBUG = debug  # Django's technical 404 page is what DEBUG would show otherwise

    response = client.get("/lessons/no-such-lesson/")

    assert response.status_code == 404
    page = response.content.decode()
    assert "No lesson called &#x27;no-such-lesson&#x27;." in page
    assert "Back to the lessons" in page and "Page not found at" not in page
