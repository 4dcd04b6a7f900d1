"""The OCPP central system: WebSocket server, connection registry, handlers per OCPP version."""
