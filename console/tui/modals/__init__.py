"""One ModalScreen per dialog."""
