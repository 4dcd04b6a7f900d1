"""The REST API of headless mode (FastAPI on uvicorn), its event stream, and the attach-mode client."""
