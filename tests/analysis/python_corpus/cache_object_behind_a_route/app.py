# The route reaches the cache through the instance another module made.
from cache import PAGES
from flask import Flask

app = Flask(__name__)


@app.get("/pages/<page_id>")
def page(page_id: str) -> bytes:
    body = PAGES.get(page_id)
    if body is None:
        body = page_id.encode() * 1000
        PAGES.put(page_id, body)
    return body
