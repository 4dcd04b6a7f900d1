"""The domain, free of any UI: store, events, fleet service, live state, console service."""
