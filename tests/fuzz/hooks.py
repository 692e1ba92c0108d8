"""schemathesis hooks for edge-chat (loaded through schemathesis.toml).

A 101 answer to the WebSocket route hands the TCP connection over to the WebSocket protocol, but
`requests` puts it back into its pool and sends the next HTTP request down it, which the server reads
as WebSocket frames. After a 101 the connection is closed instead (before `requests` reads the empty
body and releases it), so the next request opens a new one.
"""

import requests.adapters

_build_response = requests.adapters.HTTPAdapter.build_response


def _build_response_closing_upgrades(self, req, resp):
    if resp.status == 101 and resp.connection is not None:
        resp.connection.close()
    return _build_response(self, req, resp)


requests.adapters.HTTPAdapter.build_response = _build_response_closing_upgrades
