"""Reads what the benchmark needs from the running service, through its API.

  probe.py ids <port> <token>                    first and last synthetic company id, a region
  probe.py deep-cursor <port> <token> <region>   a cursor 90 % deep into the region by name
"""
import json
import sys
import urllib.request


def get(port, token, path):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def main():
    command, port, token = sys.argv[1:4]
    if command == "ids":
        base = "/api/v1/companies?q=benchmark-betrieb&limit=1&sort="
        first = get(port, token, base + "created_at")["items"][0]
        last = get(port, token, base + "-created_at")["items"][0]
        print(first["id"], last["id"], first["region_id"])
    elif command == "deep-cursor":
        region = sys.argv[4]
        total = get(port, token, f"/api/v1/companies?region_id={region}&with_total=true&limit=1")["total"]
        depth = max(int(total * 0.9), 1)
        limit = min(200, depth)
        base = f"/api/v1/companies?region_id={region}&sort=name&limit={limit}"
        cursor = ""
        for _ in range(depth // limit):
            page = get(port, token, base + (f"&cursor={cursor}" if cursor else ""))
            if not page["next_cursor"]:
                break
            cursor = page["next_cursor"]
        print(cursor)
    else:
        sys.exit(__doc__)


main()
