from notify_helpers import channel, deliveries, project, report, attempts


def test_smoke(sessions, key, remote, make_worker, clock):
    team_id, project_id = project(sessions)
    cid = channel(sessions, key, team_id, remote.plan("/slack"), project_id=project_id)
    report(sessions, project_id)
    worker = make_worker()
    r = worker.run_once()
    print(r)
    got = remote.to("/slack")
    assert len(got) == 1
    import json; print(json.dumps(got[0].json(), indent=1)[:3000])
    d = deliveries(sessions)
    assert d[0].state == "sent"
    print(attempts(sessions, d[0].id)[0].__dict__)
