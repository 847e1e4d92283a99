# A Flask app that remembers every request's context by its id and never forgets one.
# expect: growth function=handle_order line=14 variable=REQUEST_CONTEXT
import uuid

from flask import Flask, request

app = Flask(__name__)
REQUEST_CONTEXT: dict[str, dict[str, object]] = {}


@app.route("/orders", methods=["POST"])
def handle_order():
    request_id = request.headers.get("X-Request-Id") or str(uuid.uuid4())
    REQUEST_CONTEXT[request_id] = {"body": request.get_data(), "user": request.remote_addr}
    return {"id": request_id}
