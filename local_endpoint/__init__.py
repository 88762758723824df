"""The embedded default endpoint: the Azure AI Model Inference API served locally by small packaged models.

Run it with `python -m local_endpoint --host 127.0.0.1 --port 8800`. It shares no code with `services/`.
"""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8800
