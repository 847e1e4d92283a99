# An http.server app that subscribes a callback to a process-wide event bus on every request.
# expect: growth function=Handler.do_GET line=24 variable=do_GET
from http.server import BaseHTTPRequestHandler, HTTPServer


class EventBus:
    def __init__(self) -> None:
        self.listeners = []

    def subscribe(self, listener) -> None:
        self.listeners.append(listener)

    def publish(self, event: str) -> None:
        for listener in self.listeners:
            listener(event)


BUS = EventBus()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.path
        BUS.subscribe(lambda event: print(path, event))
        self.send_response(200)
        self.end_headers()


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", 8080), Handler).serve_forever()
