"""importflow-api: the Image API v2 import subset over HTTP (Flask app,
served by gunicorn). Handlers parse HTTP and call importflow.domain; they
hold no validation or authorization rules of their own."""
