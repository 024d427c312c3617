"""The example app: a Flask app served by gunicorn, as a Heroku-style platform runs it."""

import platform

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return f"Hello from pybuildpack! Python {platform.python_version()}\n"
