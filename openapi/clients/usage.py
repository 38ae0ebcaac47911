"""A partner chamber's first steps with the generated Python client: build the request for a
company list and an event, offline. Run by check.sh after generating the client, so a document
change that breaks the generated client fails CI."""

import datetime

from betriebsnachbarschaften_api_client import AuthenticatedClient
from betriebsnachbarschaften_api_client.api.companies import list_companies
from betriebsnachbarschaften_api_client.api.events import create_event
from betriebsnachbarschaften_api_client.models import EventInput, EventKind

client = AuthenticatedClient(base_url="http://127.0.0.1:8080", token="<token>")
event = EventInput(
    title="Abschlussveranstaltung",
    kind=EventKind.CLOSING_EVENT,
    project_id=1,
    starts_at=datetime.datetime(2022, 3, 28, tzinfo=datetime.timezone.utc),
)
assert event.to_dict()["kind"] == "closing_event"
assert callable(list_companies.sync) and callable(create_event.sync)
print("python client: ok")
