"""A registration made from a job's page (我想应聘) carries the job; one made without the card
carries the phone alone and says it is unverified. Bad input is refused naming the field."""

from __future__ import annotations

import pytest

from content.outbox import Outbox
from content.registrations import RegistrationError, submit_registration

JOB = {"id": "job-7-000104", "title": "开荒保洁", "employer": "龙洞堡众合家政服务有限公司"}


def test_the_job_and_the_unverified_mark_reach_the_outbox(station) -> None:
    db = station.settings.db_path
    submit_registration(db, "求职", {"name": "赵六", "phone": "13698765432"}, {}, station_id="s1", job=JOB)
    submit_registration(db, "求职", {"phone": "13512345678"}, {}, station_id="s1", job=JOB, verified=False)
    submit_registration(db, "零工", {"name": "钱七"}, {}, station_id="s1")
    with Outbox(db) as outbox:
        first, second, third = outbox.pending("registration")
    assert first.payload["job"] == JOB and "verified" not in first.payload
    assert second.payload["verified"] is False and second.payload["person"] == {"phone": "13512345678"}
    assert "job" not in third.payload and "verified" not in third.payload


@pytest.mark.parametrize(("person", "kwargs", "field"), [
    ({"name": "赵六"}, {"job": {"id": "j1", "title": "保洁"}}, "job must have exactly the fields"),
    ({"name": "赵六"}, {"job": {**JOB, "employer": " "}}, "job.employer must be text"),
    ({"name": "赵六", "phone": "13512345678"}, {"verified": False}, "an unverified registration"),
    ({}, {"verified": False}, "an unverified registration"),
])
def test_bad_job_references_are_refused_by_field(station, person, kwargs, field) -> None:
    with pytest.raises(RegistrationError) as refused:
        submit_registration(station.settings.db_path, "求职", person, {}, station_id="s1", **kwargs)
    assert str(refused.value).startswith(field) and "赵六" not in str(refused.value)
